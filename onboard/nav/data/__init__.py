"""LSIS-AFS V1.0 Annex 1/2 LDPC submatrices (the 003 index files), shipped as package data."""
