"""topomap.yaml: valid files load; every kind of mistake is one line naming line and key."""

from __future__ import annotations

import pytest

from topomap.analysis import policy_file as pf
from topomap.analysis.rules import RULE_IDS
from topomap.errors import InputError

GOOD = """\
version: 1
boundary:
  internal: [10.0.0.0/8]
allowed_egress:
  - id: stripe
    to: ["*.stripe.com", 3.18.12.0/24]
    protocol: tcp
    ports: [443]
    source:
      namespaces: [shop]
      workloads: [shop/Deployment/payment*]
    owner: payments
    reason: card processing
entry_points:
  - id: web
    service: shop/frontend-external
    ports: [80, 443]
    owner: web
    reason: the public shop
apiserver_clients: [kube-system/*]
suppressions:
  - rule: TM-UNCOVERED
    subject: "workload:monitoring/*"
    reason: scrapes everything
    approved_by: ann
    expires: 2027-03-31
severity:
  TM-UNPROTECTED: info
"""


def parse(text: str) -> pf.PolicyFile:
    return pf.parse_policy_file(text, origin="topomap.yaml", known_rules=RULE_IDS)


def test_a_complete_file_loads() -> None:
    policy = parse(GOOD)
    assert policy.boundary.internal == ("10.0.0.0/8",)
    assert policy.allowed_egress[0].to == ("*.stripe.com", "3.18.12.0/24")
    assert policy.allowed_egress[0].source.workloads == ("shop/Deployment/payment*",)
    assert policy.entry_points[0].sources == ("0.0.0.0/0", "::/0")
    assert str(policy.suppressions[0].expires) == "2027-03-31"
    assert policy.severity == {"TM-UNPROTECTED": "info"}


def test_empty_file_and_commented_out_lists_are_empty_policies() -> None:
    assert parse("") == pf.PolicyFile()
    assert parse("version: 1\nallowed_egress:\n  # - id: x\nentry_points:\n") == pf.PolicyFile()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "    ports: [443]\n",
            "    ports: [https]\n",
            r"^topomap.yaml:8: /allowed_egress/0/ports/0: expected integer",
        ),
        (
            "    ports: [443]\n",
            "    ports: [70000]\n",
            r"^topomap.yaml:8: /allowed_egress/0/ports/0: 70000 is not a port",
        ),
        (
            "  internal: [10.0.0.0/8]\n",
            "  internal: [10.0.0.0/33]\n",
            r"^topomap.yaml:3: /boundary/internal/0: '10.0.0.0/33' is not a CIDR",
        ),
        (
            "    protocol: tcp\n",
            "    protocol: tcpx\n",
            r"^topomap.yaml:7: /allowed_egress/0/protocol: ",
        ),
        (
            "    owner: payments\n",
            "    ownr: payments\n",
            r"^topomap.yaml:12: /allowed_egress/0/ownr: unknown field 'ownr'",
        ),
        (
            "  - rule: TM-UNCOVERED\n",
            "  - rule: TM-NOPE\n",
            r"^topomap.yaml:22: /suppressions/0/rule: unknown rule 'TM-NOPE'",
        ),
        (
            "    expires: 2027-03-31\n",
            "    expires: next spring\n",
            r"^topomap.yaml:26: /suppressions/0/expires: expected a date",
        ),
        (
            "    service: shop/frontend-external\n",
            "",
            r"^topomap.yaml:15: /entry_points/0: needs exactly one of service, workload, host",
        ),
        (
            '    to: ["*.stripe.com", 3.18.12.0/24]\n',
            "    to: [not a name]\n",
            r"^topomap.yaml:6: /allowed_egress/0/to/0: 'not a name' is neither a CIDR nor a DNS",
        ),
        (
            "      workloads: [shop/Deployment/payment*]\n",
            "      workloads: [payment]\n",
            r"^topomap.yaml:11: /allowed_egress/0/source/workloads/0: 'payment' is not",
        ),
        (
            "  TM-UNPROTECTED: info\n",
            "  TM-UNPROTECTED: severe\n",
            r"^topomap.yaml:28: /severity/TM-UNPROTECTED: ",
        ),
        ("version: 1\n", "version: 2\n", r"^topomap.yaml:1: /version: version 2 is not supported"),
        (
            "reason: the public shop\n",
            "reason: [the public shop\n",
            r"^topomap.yaml:20: not valid YAML",
        ),
    ],
)
def test_mistakes_name_line_and_key(old: str, new: str, message: str) -> None:
    assert old in GOOD
    with pytest.raises(InputError, match=message):
        parse(GOOD.replace(old, new, 1))


def test_matching_helpers() -> None:
    policy = parse(GOOD)
    payment = pf.Source(namespace="shop", workload="shop/Deployment/payment", labels={})
    cart = pf.Source(namespace="shop", workload="shop/Deployment/cart", labels={})
    assert pf.egress_entry(policy, payment, "54.1.1.1", ("api.stripe.com",), "tcp", 443)
    assert pf.egress_entry(policy, payment, "3.18.12.9", (), "tcp", 443)
    assert pf.egress_entry(policy, payment, "3.18.13.9", (), "tcp", 443) is None
    assert pf.egress_entry(policy, payment, "54.1.1.1", ("api.stripe.com",), "tcp", 80) is None
    assert pf.egress_entry(policy, cart, "54.1.1.1", ("api.stripe.com",), "tcp", 443) is None
    assert pf.egress_entry(policy, payment, "54.1.1.1", ("stripe.com",), "tcp", 443) is None
    web = pf.entry_point(
        policy,
        services=("shop/frontend-external",),
        workload=None,
        host=None,
        source_ip="198.51.100.7",
        port=443,
    )
    assert web is not None and web.id == "web"
    assert (
        pf.entry_point(
            policy,
            services=("shop/frontend",),
            workload=None,
            host=None,
            source_ip="198.51.100.7",
            port=443,
        )
        is None
    )


def test_schema_is_published_and_current() -> None:
    import json
    from pathlib import Path

    published = Path(__file__).resolve().parents[2] / "docs" / "policy-file.schema.json"
    assert json.loads(published.read_text()) == pf.policy_schema(), (
        "regenerate with: topomap schema policy -o docs/policy-file.schema.json"
    )


def test_rules_doc_is_current() -> None:
    from pathlib import Path

    from topomap.analysis.rules_doc import rules_markdown

    published = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
    assert published.read_text() == rules_markdown(), (
        "regenerate with: python -m topomap.analysis.rules_doc > docs/rules.md"
    )
