"""The course as a book: every notebook executed into an offline website, with student notebooks
and slide decks (issue 24). `python -m book` builds it into `_build/`; see README, "The book".

Not part of `course_utils` (students never install it): its tools are in book/requirements.txt.
"""


def text(value) -> str:
    """A notebook's multi-line string (a cell's source, a stream's text), stored either as one
    string or as a list of lines, as one string."""
    return "".join(value) if isinstance(value, list) else str(value)


def source(cell) -> str:
    """A cell's source as one string."""
    return text(cell.get("source", ""))


def default_repo() -> str:
    """The repository ("owner/name") the book's Colab links open: course_utils.env.REPO_URL's."""
    from course_utils.env import REPO_URL

    return REPO_URL.removeprefix("https://github.com/")
