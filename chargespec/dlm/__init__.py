"""Dynamic load management (§7): the site model, the reference allocator of one DLM tick, the
invariants of spec/dlm.yaml as checks, their Z3 proofs, and multi-tick simulation."""
