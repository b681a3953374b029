"""The paper's Tables 1-3 and Figures 3, 5 and 6, rendered from results files, and the CAF-distance measurement."""
