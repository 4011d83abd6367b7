"""Ray clusters: the local multi-node cluster for development, and Ray jobs on any cluster."""
