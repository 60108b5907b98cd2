"""Read models built from the ledger: thrown away and rebuilt at will, never the truth."""
