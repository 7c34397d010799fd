"""A demo simulator and config, to try simjobs without a simulator of your own."""
