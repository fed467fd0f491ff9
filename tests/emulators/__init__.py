"""Local, wire-exact emulators of cloud services that real SDK clients talk to over loopback HTTP."""
