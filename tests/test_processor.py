"""The logits processor on its own: per-row masks, padded logits, finished rows, misuse."""
import pytest
import torch

from constrain import ConstrainedLogitsProcessor, GenerationError, compile_choices, compile_regex


def ids_of(tokenizer, text):
    return tokenizer.encode(text, add_special_tokens=False)


def test_rows_masks_padding_and_finished_rows(smollm2_vocab, smollm2_tokenizer):
    digits = compile_regex(r"[0-9]", smollm2_vocab)
    yes_no = compile_choices(["yes", "no"], smollm2_vocab)
    processor = ConstrainedLogitsProcessor([digits.matcher(), yes_no.matcher()])
    width = smollm2_vocab.size + 64  # a padded lm head
    prompt = torch.zeros((2, 3), dtype=torch.long)
    scores = processor(prompt, torch.zeros((2, width)))
    allowed = torch.isfinite(scores)
    assert not allowed[:, smollm2_vocab.size:].any()
    assert allowed[0].sum() == 10 and allowed[0, ids_of(smollm2_tokenizer, "7")[0]]
    assert allowed[1, ids_of(smollm2_tokenizer, "yes")[0]] and not allowed[1, ids_of(smollm2_tokenizer, "7")[0]]
    # step 2: row 0 took "7" (now only EOS), row 1 took "yes" (only EOS)
    step = torch.tensor([[ids_of(smollm2_tokenizer, "7")[0]], [ids_of(smollm2_tokenizer, "yes")[0]]])
    scores = processor(torch.cat([prompt, step], dim=1), torch.zeros((2, width)))
    eos = smollm2_vocab.eos_token_id
    assert torch.isfinite(scores).sum(dim=1).tolist() == [1, 1] and torch.isfinite(scores[:, eos]).all()
    # step 3: both rows ended; generate feeds padding to finished rows, and EOS stays the only choice
    step = torch.tensor([[eos], [eos]])
    processor(torch.cat([prompt, step, step], dim=1)[:, :-1], torch.zeros((2, width)))
    scores = processor(torch.cat([prompt, step, step], dim=1), torch.zeros((2, width)))
    assert torch.isfinite(scores).sum(dim=1).tolist() == [1, 1]


def test_one_matcher_is_copied_per_row(smollm2_vocab):
    processor = ConstrainedLogitsProcessor(compile_regex(r"a|b", smollm2_vocab).matcher())
    scores = processor(torch.zeros((3, 2), dtype=torch.long), torch.zeros((3, smollm2_vocab.size)))
    assert torch.isfinite(scores).sum(dim=1).tolist() == [2, 2, 2]
    assert len({id(m) for m in processor.matchers}) == 3


def test_misuse_is_a_typed_error(smollm2_vocab, smollm2_tokenizer):
    grammar = compile_regex(r"[0-9]+", smollm2_vocab)
    with pytest.raises(GenerationError, match="2 matchers for a batch of 3"):
        ConstrainedLogitsProcessor([grammar.matcher(), grammar.matcher()])(
            torch.zeros((3, 2), dtype=torch.long), torch.zeros((3, smollm2_vocab.size)))
    processor = ConstrainedLogitsProcessor(grammar.matcher())
    processor(torch.zeros((1, 2), dtype=torch.long), torch.zeros((1, smollm2_vocab.size)))
    letter = ids_of(smollm2_tokenizer, "x")[0]
    with pytest.raises(GenerationError, match="does not allow"):
        processor(torch.tensor([[0, 0, letter]]), torch.zeros((1, smollm2_vocab.size)))
    with pytest.raises(GenerationError, match="only"):
        ConstrainedLogitsProcessor(grammar.matcher())(torch.zeros((1, 2), dtype=torch.long),
                                                       torch.zeros((1, 100)))
