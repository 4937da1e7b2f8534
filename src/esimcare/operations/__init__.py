"""Operations: failed work (retry, resolve by hand, requeue), pruning and chain checks."""
