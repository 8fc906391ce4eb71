"""Evaluation: a critic against human labels (`critic`), a policy against reference answers (`policy`), the
papers' metrics (`metrics`), and the report files (`report`)."""
