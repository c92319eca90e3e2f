"""The data contracts of the datasets Tillit curates, one module per source system."""
