"""CC6.6 analysis: the observed graph judged against the declared boundary and the policies."""
