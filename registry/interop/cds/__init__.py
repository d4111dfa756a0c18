"""CDS Hooks 2.0 services: discovery, and the order-sign, order-select and patient-view
hooks answering with cards built from the rules' decision for the patient."""
