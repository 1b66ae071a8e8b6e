"""export.py's direct writers give byte for byte what json.dumps and networkx's GraphML writer give."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from builder import export
from builder.network import NetworkSettings, build_network
from builder.rounds import load_round_data

ROOT = Path(__file__).parent.parent.parent

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)) | st.sampled_from(list("<>&\"'\r\n\t\x0b\x85\u2028é李😀")),
    max_size=8,
)


@st.composite
def payloads(draw):
    """Diagram-shaped payloads: odd labels, private nodes, repeat meetings, no nodes or no links."""
    count = draw(st.integers(min_value=0, max_value=7))
    nodes = []
    for i in range(count):
        label = draw(st.none() | _text)
        nodes.append(
            {
                "id": f"n{i + 1}",
                "label": label,
                "org": draw(st.none() | _text) if label is not None else None,
                "first": draw(st.integers(min_value=1, max_value=9)),
                "degree": draw(st.integers(min_value=0, max_value=6)),
                "x": draw(st.floats(min_value=-1, max_value=1)),
                "y": draw(st.floats(min_value=-1, max_value=1)),
            }
        )
    pairs = [(a, b) for a in range(count) for b in range(a + 1, count)]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=10)) if pairs else []
    links = [
        {
            "source": f"n{a + 1}",
            "target": f"n{b + 1}",
            "rounds": sorted(draw(st.sets(st.integers(min_value=1, max_value=9), min_size=1, max_size=3))),
        }
        for a, b in chosen
    ]
    return {"nodes": nodes, "links": links}


@settings(max_examples=150, deadline=None)
@given(payloads(), st.integers(min_value=1, max_value=60))
def test_direct_writers_match_the_reference_writers(payload, k):
    assert export.export_json(payload, k) == export.export_json_reference(payload, k)
    assert export.export_graphml(payload, k) == export.export_graphml_reference(payload, k)


def test_direct_writers_match_on_a_generated_scheme():
    """Triads, repeats, missed meetings and late joiners, at several cuts."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from gen_rounds import generate

    people, texts = generate(160, 9, seed=4)
    data = load_round_data(("p.yaml", people), [(f"r{k}.yaml", t) for k, t in enumerate(texts, 1)])
    network = build_network(data, NetworkSettings())
    for k in (1, 5, 9):
        payload = network.diagram_data(k)
        assert len(payload["links"]) > 0
        assert export.export_json(payload, k) == export.export_json_reference(payload, k)
        assert export.export_graphml(payload, k) == export.export_graphml_reference(payload, k)
