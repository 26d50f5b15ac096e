"""Stand-in for Forge's ``modules_forge`` package: its presence is how the extension knows the host is Forge."""
