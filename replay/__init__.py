"""Archive and trace replay for investigations."""
