"""Datasets and text, read and checked without torch.

Holds: data references and where they resolve (``refs``: names and DataError;
``catalog``: $XLTUI_DATA folders, local folders), Hugging Face datasets converted once
to plain files (``hf_source``: where an ``hf:`` reference points, ``hf_data``: its
conversion, ``hf_text``: unlabelled text, ``hf_sentiment``: labelled tweets), the CoNLL and
CoNLL-U readers (``conll``, ``conllu``), labelled texts (``sentiment``: AfriSenti's TSV and the
English XLM-T tweets), the task table's format and metric names resolved to functions
(``formats``), every problem of one data file found before queueing, cached by content
hash (``scan``), label maps (``labels``), seeded few-shot sampling (``fewshot``),
unlabelled and parallel text (``text``), released language adapters checked and
fetched as data (``released``; torch only to read a pickled weights file safely), and scoring with prediction files: tag
sequences (``ner_eval`` via seqeval, ``pos_eval``) and text labels (``sentiment_eval``).

May import: engine.spec, engine.settings.
"""
