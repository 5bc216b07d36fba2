"""Student ids: names in any script as file names and LMS downloads carry them, compared the way people compare
them, and stored under folder names that are safe on every file system.

The rule (docs/submissions.md has it with examples):

- An id is Unicode text, NFC-normalised (a macOS NFD file name is the same id), with each run of spaces (including
  the no-break and the ideographic space) made one space and the ends trimmed. Letters of any script, digits,
  spaces, punctuation and symbols are allowed: ``김민준``, ``Kim Minjun``, ``O'Brien, Seán``, ``j.doe@uni.edu``.
  Not allowed: control and invisible formatting characters (except the zero-width joiners some scripts need),
  ``/`` and ``\\``, an id with no letter or digit, and ids over :data:`MAX_ID_CHARS` characters.
- Two ids are one student when they are equal after case folding (``Alice`` and ``alice``; ``Straße`` and
  ``STRASSE``): :func:`student_key`.
- A browser or file-manager copy mark at the end of a file name is not part of the id (``김민준 (2).ipynb``,
  ``alice-Copy1.ipynb``, ``alice - Copy.ipynb``, ``alice copy 2.ipynb``, ``김민준 - 복사본.ipynb``), and the LMS
  download names of Canvas and Moodle are read for the student they name: :func:`student_of_file`.
- On disk (``autograded/``, ``feedback/``, exports) an id is its own folder name when that is safe everywhere,
  otherwise a readable form followed by ``~`` and ten hex digits of its key's hash: :func:`folder_name`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

MAX_ID_CHARS = 200
MAX_PLAIN_FOLDER_BYTES = 120   # a folder name is at most 255 bytes on common file systems; leave room
READABLE_FOLDER_BYTES = 60     # the readable part of a hashed folder name
HASH_CHARS = 10
_JOINERS = {"\u200c", "\u200d"}  # zero-width non-joiner and joiner: part of how Persian and Indic names are written
_FOLDER_PUNCTUATION = set("._-@+',() ")  # beside letters, marks and digits: fine on Windows, macOS and Linux
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$", re.IGNORECASE)
_SPACES = re.compile("[ \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")  # the space separators (Zs), not line breaks

# Copy marks at the end of a file name's stem, as browsers, Jupyter and file managers add them.
_COPY_MARKS = (
    re.compile(r"\s?\((?P<n>\d+)\)$"),                                        # Chrome "x (1)", Firefox "x(1)"
    re.compile(r"-Copy(?P<n>\d+)$", re.IGNORECASE),                           # Jupyter "x-Copy1"
    re.compile(r" - (?:Copy|복사본)(?: \((?P<n>\d+)\))?$", re.IGNORECASE),    # Windows Explorer, English/Korean
    re.compile(r" (?:copy|복사본)(?: (?P<n>\d+))?$", re.IGNORECASE),         # macOS Finder, English/Korean
)
# Canvas "Download Submissions": <sortable name, lowercased>[_LATE]_<user id>_<file id>_<uploaded file name>;
# anonymous grading: [LATE_]anon_<anonymous id>_<file id>_<uploaded file name> (canvas-lms lib/content_zipper.rb).
_CANVAS = re.compile(r"^(?P<name>.*?)(?P<late>_late)?_(?P<uid>\d+)_(?P<fid>\d+)_(?P<file>.+)$", re.IGNORECASE)
_CANVAS_ANONYMOUS = re.compile(r"^(?P<late>late_)?(?P<uid>anon_[a-z0-9]+)_(?P<fid>\d+)_(?P<file>.+)$", re.IGNORECASE)
# Moodle "Download all submissions": <full name>_<participant id>_assignsubmission_file/ (a folder per student) or,
# flat, the same prefix and "_" before the file name (mod/assign/classes/downloader.php).
_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<uid>\d+)_assignsubmission_[a-z]+(?:_(?P<file>.+))?$")
# Gradescope "Export Submissions": a folder submission_<submission id>/ per submission, the submitters and times in
# submission_metadata.yml beside them.
_GRADESCOPE = re.compile(r"^submission_(?P<sid>\d+)$")
# Blackboard "Download assignment": <assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file name>, the attempt's
# time in the server's time zone (taken as the course's).
_BLACKBOARD = re.compile(r"^(?P<assignment>.+?)_(?P<name>[^_]+)_attempt_"
                         r"(?P<time>\d{4}-\d{2}-\d{2})-(?P<h>\d{2})-(?P<m>\d{2})-(?P<s>\d{2})(?:_(?P<file>.+))?$")


def normalise(raw: str) -> str:
    """The id as it is stored and shown: NFC, each run of spaces one space, no spaces at the ends."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", raw)).strip(" ")


def student_key(student: str) -> str:
    """What two spellings of one student share: NFC, then case-folded (Alice, alice and ALICE are one)."""
    return unicodedata.normalize("NFC", normalise(student).casefold())


def id_problem(student: str) -> str | None:
    """Why a normalised id cannot be used as one (a phrase that follows the id), or None."""
    if not student:
        return "is empty"
    if len(student) > MAX_ID_CHARS:
        return f"is longer than {MAX_ID_CHARS} characters"
    for char in student:
        if char in "/\\":
            return f"contains {char!r}"
        if unicodedata.category(char)[0] in "CZ" and char != " " and char not in _JOINERS:
            return f"contains the control or invisible character U+{ord(char):04X}"
    if not any(unicodedata.category(char)[0] in "LN" for char in student):
        return "has no letter or digit"
    return None


def shown(text: str) -> str:
    """A name from outside, safe to put in a one-line message."""
    return text if text and text.isprintable() and text.strip() == text else repr(text)


def _hash(student: str) -> str:
    return hashlib.sha256(student_key(student).encode("utf-8", "surrogatepass")).hexdigest()[:HASH_CHARS]


def resolve(raw: str) -> tuple[str, str | None]:
    """(id to file results under, problem): an unusable name becomes a unique stand-in id, with the reason."""
    student = normalise(raw)
    problem = id_problem(student)
    if problem is None:
        return student, None
    readable = _readable(student)[:40]
    return f"invalid-{readable}-{_hash(raw)[:8]}", f"student name {shown(raw)} {problem}"


# --- folder names ---------------------------------------------------------------------------------------------

def _folder_char(char: str) -> bool:
    return char in _FOLDER_PUNCTUATION or unicodedata.category(char)[0] in "LM" or unicodedata.category(char) == "Nd"


def _is_plain_folder(student: str) -> bool:
    """Whether the id can be its own folder name on Linux, macOS and Windows, and no other student's."""
    return (all(_folder_char(c) for c in student)
            and student[:1] not in (".", "-", " ", "")
            and not student.endswith((".", " "))
            and not _WINDOWS_RESERVED.match(student)
            and len(student.encode("utf-8")) <= MAX_PLAIN_FOLDER_BYTES
            and student == unicodedata.normalize("NFC", student)
            # case-insensitive file systems fold case their own way (NTFS upper-cases: "ı" is "I"): only names
            # whose case folding is the same from upper and lower case are trusted to be told apart there
            and student_key(student) == student_key(student.upper()) == student_key(student.lower()))


def _readable(student: str) -> str:
    """The id with everything a folder name should not hold made ``_``."""
    text = "".join(c if _folder_char(c) and c != " " else "_" for c in normalise(student))
    return re.sub(r"_+", "_", text).strip("._-")


def folder_name(student: str) -> str:
    """The folder of ``student`` under autograded/, feedback/ and exports: one path component, never ``.`` or
    ``..``, no separator, control character or Windows-reserved name, at most 255 bytes; the id itself where that
    is safe (``alice``, ``김민준``, ``Kim Minjun``), else readable + ``~`` + hash (``Kim_Minjun_Dr~1a2b3c4d5e``
    for ``Kim: Minjun, Dr.``). Deterministic, and one per student: ids that are one student (:func:`student_key`)
    share it, and two students never do, on case-sensitive or case-insensitive file systems (``~`` never
    appears in a plain one; the hash is lowercase)."""
    student = normalise(student)
    if _is_plain_folder(student):
        return student
    readable = _readable(student).encode("utf-8")[:READABLE_FOLDER_BYTES].decode("utf-8", "ignore").rstrip("._-")
    if _WINDOWS_RESERVED.match(readable.split(".")[0]):
        readable = f"_{readable}"  # Windows reserves "nul.txt~1a2b" too: everything before the first dot counts
    return f"{readable or 'student'}~{_hash(student)}"


# --- file names -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NameInFile:
    """Who a submitted file or folder belongs to, as its name says.

    ``student``: the id (normalised). ``lms``: ``canvas``, ``moodle`` or ``""`` for a plain ``<student>.ipynb``.
    ``lms_id``: the LMS's id for the student (Canvas user id or ``anon_…``, Moodle participant id), for telling
    apart two students of the same name and for mapping to a roster. ``late``: Canvas marked the file LATE.
    ``copy``: the copy number a browser or file manager added (0 for none). ``time``: when it was handed in,
    where the name says so (Blackboard), as a naive ISO time in the course's time zone. ``email``: the student's
    e-mail where the LMS gives it (Gradescope's metadata).
    """

    student: str
    lms: str = ""
    lms_id: str = ""
    late: bool = False
    copy: int = 0
    time: str = ""
    email: str = ""


def strip_copy_marks(stem: str) -> tuple[str, int]:
    """``("김민준", 2)`` for ``"김민준 (2)"``; the stem unchanged (and 0) when it has no copy mark."""
    copy = 0
    while True:
        for mark in _COPY_MARKS:
            found = mark.search(stem)
            if found and stem[: found.start()].strip():
                stem = stem[: found.start()]
                copy = copy or int(found.group("n") or 1)
                break
        else:
            return stem, copy


def stem_of(filename: str) -> str:
    """The file name without its extension (``.ipynb`` in any case)."""
    base, dot, _ = filename.rpartition(".")
    return base if dot and base else filename


def student_of_file(filename: str) -> NameInFile:
    """The student a submitted file's name stands for: Moodle's and Canvas's download names first, then
    ``<student>.ipynb`` with any copy mark dropped."""
    moodle = student_of_moodle_folder(filename)
    if moodle is not None:
        return moodle
    stem = stem_of(filename)
    board = _BLACKBOARD.match(stem)
    if board:
        time = f"{board.group('time')}T{board.group('h')}:{board.group('m')}:{board.group('s')}"
        return NameInFile(normalise(board.group("name")), "blackboard", time=time)
    found = _CANVAS_ANONYMOUS.match(stem) or _CANVAS.match(stem)
    if found:
        uid = found.group("uid")
        name = found.groupdict().get("name") or ""
        return NameInFile(normalise(name) or uid.lower(), "canvas", uid.lower(), bool(found.group("late")))
    base, copy = strip_copy_marks(stem)
    return NameInFile(normalise(base), copy=copy)


def student_of_moodle_folder(name: str) -> NameInFile | None:
    """The student of a Moodle download folder (``Kim Minjun_1234_assignsubmission_file``) or flat file name."""
    found = _MOODLE.match(name)
    if found is None:
        return None
    return NameInFile(normalise(found.group("name")), "moodle", found.group("uid"))


def student_of_gradescope_folder(name: str, metadata: dict[str, dict[str, str]]) -> NameInFile | None:
    """The submitter of a Gradescope export folder (``submission_123456``), from its metadata when there is any:
    the name, with the SID as the LMS id (what a roster's ``lms_id`` holds) and the e-mail."""
    found = _GRADESCOPE.match(name)
    if found is None:
        return None
    meta = metadata.get(name, {})
    student = normalise(meta.get("name", "")) or name
    return NameInFile(student, "gradescope", meta.get("sid", "") or found.group("sid"), time=meta.get("time", ""),
                      email=meta.get("email", ""))


def notebook_key(filename: str) -> str:
    """A notebook's name as a student's renamed copy may spell it: ``Markov.ipynb``, ``markov (1).ipynb`` and
    ``markov-Copy1.ipynb`` all give ``markov``."""
    return student_key(strip_copy_marks(stem_of(filename))[0])
