"""The frame that nalm's workflows share: run directories (kind, lock, atomic files)."""
