"""Candidate rings: connected components of strong links, with oversized ones split.

:func:`ring_candidates` keeps the links of a :class:`graphs.linking.LinkGraph` whose
weight reaches a threshold and labels the connected components with
``scipy.sparse.csgraph`` (a 1M-account, 3M-link graph takes well under a second).
A component larger than ``max_size`` is not reported whole: its own threshold is raised
step by step until every piece fits, and a piece that still does not fit when no
link is left to drop is split by Louvain community detection (NetworkX, seeded; it
only ever sees one oversized piece).

:func:`networkx_components` is the reference implementation used in tests and in the
benchmark's speed comparison.
"""

from __future__ import annotations

import numpy as np

from graphs.linking import LinkGraph

__all__ = ["connected_labels", "networkx_components", "ring_candidates"]


def connected_labels(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Component label (0..k-1) of each of ``n`` nodes, joined by edges ``src``–``dst``.

    Examples
    --------
    >>> import numpy as np
    >>> connected_labels(5, np.array([0, 3]), np.array([1, 4])).tolist()
    [0, 0, 1, 2, 2]
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    matrix = coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n)).tocsr()
    _, labels = connected_components(matrix, directed=False)
    return labels


def networkx_components(graph: LinkGraph, threshold: float) -> list[frozenset[str]]:
    """Components of size >= 2 over links of weight >= ``threshold``, with NetworkX.

    Examples
    --------
    >>> import numpy as np
    >>> g = LinkGraph(np.array(["a", "b", "c"], dtype=object), np.array([0, 1]),
    ...     np.array([1, 2]), np.array([1.0, 0.2]))
    >>> [sorted(c) for c in networkx_components(g, 0.5)]
    [['a', 'b']]
    """
    import networkx as nx

    keep = graph.weight >= threshold
    nx_graph = nx.Graph()
    nx_graph.add_edges_from(
        zip(graph.account_ids[graph.src[keep]], graph.account_ids[graph.dst[keep]], strict=True)
    )
    return [frozenset(c) for c in nx.connected_components(nx_graph)]


def ring_candidates(
    graph: LinkGraph,
    threshold: float = 0.5,
    *,
    max_size: int = 150,
    step: float = 1.25,
    seed: int = 0,
) -> np.ndarray:
    """Candidate ring of every account: a label, or -1 for an account in no candidate.

    Links of weight >= ``threshold`` join accounts; components of two or more accounts
    are candidates. Components larger than ``max_size`` are split (module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> g = LinkGraph(np.array(["a", "b", "c", "d"], dtype=object), np.array([0, 1, 2]),
    ...     np.array([1, 2, 3]), np.array([1.0, 0.2, 0.9]))
    >>> ring_candidates(g).tolist()
    [0, 0, 1, 1]
    """
    keep = graph.weight >= threshold
    src, dst, weight = graph.src[keep], graph.dst[keep], graph.weight[keep]
    labels = connected_labels(graph.n_accounts, src, dst)
    labels = _split_oversized(labels, src, dst, weight, threshold, max_size, step, seed)
    return _compact(labels)


def _split_oversized(
    labels: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    threshold: float,
    max_size: int,
    step: float,
    seed: int,
) -> np.ndarray:
    labels = labels.copy()
    next_label = labels.max() + 1 if len(labels) else 0
    sizes = np.bincount(labels) if len(labels) else np.array([], dtype=int)
    for big in np.flatnonzero(sizes > max_size):
        nodes = np.flatnonzero(labels == big)
        inside = labels[src] == big
        pieces = _split_one(
            nodes, src[inside], dst[inside], weight[inside], threshold * step, max_size, step, seed
        )
        for piece in pieces:
            labels[piece] = next_label
            next_label += 1
    return labels


def _split_one(
    nodes: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    threshold: float,
    max_size: int,
    step: float,
    seed: int,
) -> list[np.ndarray]:
    """Pieces (arrays of global node indices) of one oversized component."""
    if len(src) == 0 or threshold > weight.max():
        return _louvain_pieces(nodes, src, dst, weight, max_size, seed)
    local = np.searchsorted(nodes, np.r_[src, dst]).reshape(2, -1)
    keep = weight >= threshold
    sub = connected_labels(len(nodes), local[0][keep], local[1][keep])
    pieces = []
    for label in np.unique(sub):
        members = nodes[sub == label]
        if len(members) <= max_size:
            pieces.append(members)
            continue
        inside = np.isin(src, members) & keep
        pieces.extend(
            _split_one(
                members,
                src[inside],
                dst[inside],
                weight[inside],
                threshold * step,
                max_size,
                step,
                seed,
            )
        )
    return pieces


def _louvain_pieces(
    nodes: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    max_size: int,
    seed: int,
) -> list[np.ndarray]:
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(nodes.tolist())
    graph.add_weighted_edges_from(zip(src.tolist(), dst.tolist(), weight.tolist(), strict=True))
    communities = nx.community.louvain_communities(graph, weight="weight", seed=seed)
    pieces = []
    for community in communities:
        members = np.array(sorted(community), dtype=np.int64)
        if len(members) <= max_size or len(communities) == 1:
            # one community that cannot be split further: cut it into max_size chunks
            # rather than report a giant component
            pieces.extend(np.array_split(members, -(-len(members) // max_size)))
        else:
            inside = np.isin(src, members) & np.isin(dst, members)
            pieces.extend(
                _louvain_pieces(members, src[inside], dst[inside], weight[inside], max_size, seed)
            )
    return pieces


def _compact(labels: np.ndarray) -> np.ndarray:
    """Relabel components of size >= 2 as 0..k-1 in order of first member; others -1."""
    if len(labels) == 0:
        return labels
    sizes = np.bincount(labels)
    used, first = np.unique(labels, return_index=True)
    in_order = used[np.argsort(first)]
    relabel = np.full(len(sizes), -1, dtype=np.int64)
    candidates = in_order[sizes[in_order] >= 2]
    relabel[candidates] = np.arange(len(candidates))
    return relabel[labels]
