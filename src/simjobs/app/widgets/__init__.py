"""The widgets of the simjobs app."""
