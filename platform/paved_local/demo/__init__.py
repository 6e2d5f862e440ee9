"""The demo: the whole ML lifecycle on the embedded platform, shown live, written up as a report."""
