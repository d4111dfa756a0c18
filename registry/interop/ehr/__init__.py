"""EHR systems registered by program staff: who they are (the JWT issuer), the public keys
their CDS Hooks calls are signed with, and the prescribers each one serves."""
