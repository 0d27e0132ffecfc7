"""Data association: gating, clustering into independent groups, GNN and cheap JPDA."""

from fusion.association.clustering import cluster_pairs
from fusion.association.gating import candidate_pairs, chi2_gate
from fusion.association.gnn import gnn_assign
from fusion.association.jpda import jpda_weights

__all__ = ["candidate_pairs", "chi2_gate", "cluster_pairs", "gnn_assign", "jpda_weights"]
