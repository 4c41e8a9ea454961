"""The course as a book: every notebook executed into an offline website, with student notebooks
and slide decks (issue 24). `python -m book` builds it into `_build/`; see README, "The book".

Not part of `course_utils` (students never install it): its tools are in book/requirements.txt.
"""
