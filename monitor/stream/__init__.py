"""Stream plumbing: the sample ring buffer and the sliding windower."""
