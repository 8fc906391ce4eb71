"""Using a critic: batched generation (`generation`), the judge engine (`judge`, `judgments`), LLaVA-Critic's
r_i aggregation (`aggregation`), best-of-N strategies (`strategies`), question input (`questions`), and the
one sample -> judge layer every user of a critic calls (`pipeline`)."""
