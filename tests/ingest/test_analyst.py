"""Analyst queries: the library's headers, its vocabulary, and each query on a small
known graph; the runner refuses writes and keeps to its row limit."""

from __future__ import annotations

import re

import pytest

from graphs.errors import QueryError
from graphs.model import Label, Prop, Rel
from graphs.queries import load_queries, parse_query
from ingest.analyst import format_table, run_named, run_read_only
from ingest.job import ingest_dataset
from tests.ingest.helpers import ACCOUNT_HEADER, ACCOUNTS, write_dataset

AS_OF = "2026-03-10T00:00:00Z"


# ---------------------------------------------------------------- pure (no server)
def test_every_query_has_a_description_and_documented_parameters():
    library = load_queries()
    assert set(library) >= {
        "accounts_sharing_identifiers", "shared_identifiers", "path_between_accounts",
        "top_shared_devices", "top_shared_payment_methods", "top_shared_ips",
        "signup_bursts_by_subnet",
    }  # fmt: skip
    for query in library.values():
        assert query.description, query.name
        for param in query.params:
            assert param.doc, (query.name, param.name)
            assert f"${param.name}" in query.text, (query.name, param.name)
        used = set(re.findall(r"\$(\w+)", query.text))
        assert used == {p.name for p in query.params}, query.name


def test_queries_spell_only_names_of_the_graph_model():
    labels, rels = {str(v) for v in Label}, {str(v) for v in Rel}
    props = {str(v) for v in Prop}
    for query in load_queries().values():
        body = "\n".join(ln for ln in query.text.splitlines() if not ln.startswith("//"))
        body = re.sub(r"'[^']*'", "''", body)
        for name in re.findall(r"[(:]\w*:(\w+)", body) + re.findall(r"\bn?:(\w+)\b", body):
            assert name in labels | rels, (query.name, name)
        for name in re.findall(r"\b[a-z]\w*\.([a-z_]+)\b", body):
            assert name in props or name in {"start", "burst"}, (query.name, name)


def test_bind_coerces_fills_defaults_and_refuses_mistakes():
    query = parse_query(
        "q", "// demo\n// @param a string: id\n// @param n int = 5: count\nRETURN $a, $n"
    )
    assert query.bind({"a": "00123"}) == {"a": "00123", "n": 5}
    assert query.bind({"a": "x", "n": "7"})["n"] == 7
    with pytest.raises(QueryError, match="parameter a is required"):
        query.bind({})
    with pytest.raises(QueryError, match="unknown parameter"):
        query.bind({"a": "x", "zzz": "1"})
    with pytest.raises(QueryError, match="is not a int"):
        query.bind({"a": "x", "n": "many"})


# ---------------------------------------------------------------- real server
@pytest.fixture(scope="module")
def known_graph(driver, neo4j_settings, tmp_path_factory):
    """The helpers' dataset plus a sign-up burst of four accounts from 198.51.100.0/24."""
    burst = [
        (f"b{i}", f"2026-03-05T0{i}:00:00Z", "", "", "US", f"198.51.100.{10 + i}", "", "")
        for i in range(4)
    ]
    dataset = write_dataset(
        tmp_path_factory.mktemp("analyst") / "d", accounts=(ACCOUNT_HEADER, ACCOUNTS + burst)
    )
    db = neo4j_settings.database
    driver.execute_query("MATCH (n) DETACH DELETE n", database_=db)
    ingest_dataset(driver, db, dataset, progress=False)
    return driver


pytestmark_neo4j = pytest.mark.neo4j


def _run(driver, settings, name, **params):
    result = run_named(driver, settings.database, name, params)
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


@pytestmark_neo4j
def test_accounts_sharing_identifiers(known_graph, neo4j_settings):
    rows = _run(known_graph, neo4j_settings, "accounts_sharing_identifiers", account_id="00123")
    assert [r["account_id"] for r in rows] == ["a2"]
    assert set(rows[0]["shared"]) >= {"Device d1", "Email johndoe@gmail.com", "PaymentMethod pm1"}
    rows = _run(
        known_graph, neo4j_settings, "accounts_sharing_identifiers", account_id="00123",
        max_users="1",
    )  # fmt: skip
    assert rows == []


@pytestmark_neo4j
def test_shared_identifiers(known_graph, neo4j_settings):
    rows = _run(known_graph, neo4j_settings, "shared_identifiers", a="00123", b="a2")
    shared = {(r["kind"], r["identifier"]) for r in rows}
    assert shared == {
        ("Email", "johndoe@gmail.com"), ("Phone", "+14155550123"), ("Device", "d1"),
        ("PaymentMethod", "pm1"), ("UserAgent", "UA-1"),
    }  # fmt: skip


@pytestmark_neo4j
def test_path_between_accounts(known_graph, neo4j_settings):
    rows = _run(known_graph, neo4j_settings, "path_between_accounts", a="00123", b="a2")
    assert rows[0]["identifiers_between"] == 1
    assert rows[0]["path"][0] == "Account 00123" and rows[0]["path"][-1] == "Account a2"
    assert _run(known_graph, neo4j_settings, "path_between_accounts", a="00123", b="a3") == []


@pytestmark_neo4j
def test_top_shared_devices(known_graph, neo4j_settings):
    rows = _run(known_graph, neo4j_settings, "top_shared_devices", days="30", as_of=AS_OF)
    assert [(r["device_id"], r["accounts"]) for r in rows] == [("d1", 2)]
    too_old = _run(
        known_graph, neo4j_settings, "top_shared_devices", days="1", as_of="2026-04-30T00:00:00Z"
    )
    assert too_old == []


@pytestmark_neo4j
def test_top_shared_payment_methods(known_graph, neo4j_settings):
    rows = _run(known_graph, neo4j_settings, "top_shared_payment_methods", as_of=AS_OF)
    assert len(rows) == 1
    row = rows[0]
    assert (row["payment_method_id"], row["accounts"], row["payments"], row["declined"]) == (
        "pm1", 2, 2, 1,
    )  # fmt: skip
    assert row["card_bin"] == "411111"


@pytestmark_neo4j
def test_top_shared_ips(known_graph, neo4j_settings):
    rows = _run(known_graph, neo4j_settings, "top_shared_ips", as_of=AS_OF)
    assert rows == []  # every IP of the known graph has one account
    rows = _run(known_graph, neo4j_settings, "signup_bursts_by_subnet", as_of=AS_OF)
    assert rows == []  # four sign-ups are below the default of five


@pytestmark_neo4j
def test_signup_bursts_by_subnet(known_graph, neo4j_settings):
    rows = _run(
        known_graph, neo4j_settings, "signup_bursts_by_subnet", min_accounts="3",
        window_hours="6", as_of=AS_OF,
    )  # fmt: skip
    assert [(r["subnet"], r["accounts"]) for r in rows] == [("198.51.100.0/24", 4)]
    assert sorted(rows[0]["sample"]) == ["b0", "b1", "b2", "b3"]
    narrow = _run(
        known_graph, neo4j_settings, "signup_bursts_by_subnet", min_accounts="3",
        window_hours="2", as_of=AS_OF,
    )  # fmt: skip
    assert narrow == []


WRITES = [
    "MATCH (n) DETACH DELETE n",
    "CREATE (:Account {account_id: 'evil'})",
    "MATCH (a:Account) SET a.label = 'fraud'",
    "CREATE INDEX evil FOR (n:Evil) ON (n.x)",
    "CALL apoc.cypher.runWrite('CREATE (:Evil)', {})",
    "PROFILE MATCH (a:Account) SET a.label = 'fraud'",
    "CALL { CREATE (:Evil) } IN TRANSACTIONS",
]


def _state(driver, db):
    records, _, _ = driver.execute_query(
        "MATCH (n) RETURN count(n) AS n, collect(DISTINCT n.label) AS labels", database_=db
    )
    return records[0].data()


@pytestmark_neo4j
@pytest.mark.parametrize("text", WRITES)
def test_runner_refuses_writes_and_changes_nothing(known_graph, neo4j_settings, text):
    """``ringwatch cypher`` (run_named) and the dashboard's page share this runner; the
    dashboard's own caller is tested in tests/dashboards/test_queries.py."""
    db = neo4j_settings.database
    before = _state(known_graph, db)
    with pytest.raises(QueryError, match=r"^Refused: this query would change the database"):
        run_read_only(known_graph, db, text)
    library = {"evil": parse_query("evil", "// writes\n" + text)}
    with pytest.raises(QueryError, match=r"^Refused: this query would change the database"):
        run_named(known_graph, db, "evil", {}, library=library)
    assert _state(known_graph, db) == before


@pytestmark_neo4j
def test_runner_keeps_to_the_row_limit(known_graph, neo4j_settings):
    result = run_read_only(
        known_graph, neo4j_settings.database, "UNWIND range(1, 50) AS i RETURN i", row_limit=10
    )
    assert len(result.rows) == 10 and result.truncated
    assert "truncated at the row limit" in format_table(result)


@pytestmark_neo4j
def test_runner_reports_a_bad_query_as_a_query_error(known_graph, neo4j_settings):
    with pytest.raises(QueryError, match="does not plan: Invalid input"):
        run_read_only(known_graph, neo4j_settings.database, "MATCH (n RETURN n")
    with pytest.raises(QueryError, match="time limit"):
        run_read_only(known_graph, neo4j_settings.database, "CALL apoc.util.sleep(5000)",
                      timeout_s=1)  # fmt: skip
    with pytest.raises(QueryError, match="Empty query"):
        run_read_only(known_graph, neo4j_settings.database, "  ;")
