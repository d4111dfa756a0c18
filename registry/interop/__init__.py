"""Standard doors for EHR and pharmacy systems: HL7 FHIR REMS, CDS Hooks, NCPDP SCRIPT REMS."""
