"""Conformance material: real families' tokenizers and templates on tiny stand-in models.

`standins.standin_path(name)` gives a cached transformers folder for `r1-distill-qwen`, `r1-distill-llama`,
`qwq`, `qwen3` or `gpt-oss`; `vocab` rebuilds the tokenizers from llama.cpp's vocabularies and js-tiktoken.
"""
