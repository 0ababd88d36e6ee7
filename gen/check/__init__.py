"""The checking room: exact and float arithmetic behind one evaluator, the size rule,
budgets, the verifier."""
