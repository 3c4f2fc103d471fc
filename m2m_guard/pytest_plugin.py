"""pytest plugin for testing services protected by m2m_guard."""
