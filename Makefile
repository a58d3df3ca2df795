# The two commands of the README's quick start, and a few for development.
.PHONY: run test build lint bench

run:
	scripts/setup.sh run
	cargo build --release
	./target/release/stratamake serve

test:
	scripts/setup.sh test
	cargo test --all-targets

build:
	cargo build --release

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
