"""Stock domain code shared by the server and the kiosk (no HTTP): what a move does to which
warehouse × product, and the stock ledger as a pure function of the moves."""
