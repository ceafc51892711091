"""A shop's policy and help pages: read from files, cut into passages, encoded for retrieval."""
