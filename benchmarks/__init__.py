"""m2m_guard's benchmark suite: run ``python benchmarks/run.py`` (see BENCHMARKS.md)."""
