"""The clearance ledger (问题台账): every open problem of every household, who fixes it by when, and what closed it."""
