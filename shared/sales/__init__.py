"""Sales domain code shared by the server and the client (no HTTP, no Flask): money in fen,
document versions and workflow rules, receivables with aging. Both sides call it on their own
replica, so the same numbers appear offline on a rep's laptop and on the server's pages.
"""
