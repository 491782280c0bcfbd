"""File helpers and the CSV cut, reproducing legacy `common/file_utils.py`.

Legacy discovered columns and counted rows with pandas.read_csv; pandas is not
a dependency here, so `read_table` reproduces the parts of its behaviour the
API exposes: UTF-8 decoding (errors surface with Python's codec message), a
leading BOM is dropped, blank lines are skipped, empty header names become
`Unnamed: N`, duplicates become `a.1`, `a.2`, ..., a data row longer than the
header is a tokenizing error, and an empty file has "No columns to parse".

The cut itself (`parse_where_clause`, `filter_csv_with_where`) is the legacy
algorithm: csv.DictReader over the raw file (BOM kept), the filter grammar of
legacy-api.md section 2.2, rows failing or erroring on a filter silently
dropped, and output joined with "," and "\\n" without any quoting.
"""
import csv
import io
import os
import re

from django.conf import settings


def upload_dir():
    path = settings.UPLOAD_DIR
    os.makedirs(path, exist_ok=True)
    return path


def size_limit_message(trailing_period):
    mb = settings.MAX_FILE_SIZE / (1024 * 1024)
    return f"File size exceeds {mb:.2f}MB limit" + ("." if trailing_period else "")


def set_file_name(file_name, directory):
    """Return (name, path) for `file_name` in `directory`, made unique.

    Legacy tried `base_1.ext`, `base_2.ext`, ... while the name was taken. The
    name is not sanitised (a `../` in a form field escapes the directory, as
    it did in legacy). The chosen file is created empty right away (O_EXCL) so
    that two concurrent requests cannot pick the same name.
    """
    base, ext = os.path.splitext(file_name)
    candidate = file_name
    counter = 1
    while True:
        path = os.path.join(directory, candidate)
        if not os.path.exists(path):
            try:
                with open(path, "xb"):
                    pass
                return candidate, path
            except FileExistsError:
                pass
            except OSError:
                # e.g. a directory in the name does not exist: let the
                # caller's write fail the way legacy's did
                return candidate, path
        candidate = f"{base}_{counter}{ext}"
        counter += 1


def write_upload(uploaded, path):
    with open(path, "wb") as destination:
        for chunk in uploaded.chunks():
            destination.write(chunk)


def save_uploaded_file(uploaded):
    """Anonymous cutter upload: size check, then a unique name in uploads/."""
    if uploaded.size > settings.MAX_FILE_SIZE:
        raise ValueError(size_limit_message(trailing_period=False))
    _, path = set_file_name(uploaded.name, upload_dir())
    write_upload(uploaded, path)
    return path


def _dedup_names(names):
    """pandas' renaming of repeated header names: a, a.1, a.2, ..."""
    counts = {}
    out = []
    for name in names:
        count = counts.get(name, 0)
        while count > 0:
            counts[name] = count + 1
            name = f"{name}.{count}"
            count = counts.get(name, 0)
        out.append(name)
        counts[name] = count + 1
    return out


def read_table(file_path):
    """(columns, row_count) the way legacy's pandas.read_csv saw the file."""
    with open(file_path, "rb") as fh:
        raw = fh.read()
    text = raw.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""))
    header = None
    width = 0
    rows = 0
    for row in reader:
        if not row:
            continue  # blank line
        if header is None:
            header = row
            width = len(header)
            continue
        if rows == 0 and len(row) == len(header) + 1:
            # pandas takes the first column as the index in this case
            width = len(header) + 1
        if len(row) > width:
            raise ValueError(
                "Error tokenizing data. C error: Expected "
                f"{width} fields in line {reader.line_num}, saw {len(row)}\n"
            )
        rows += 1
    if header is None:
        raise ValueError("No columns to parse from file")
    names = [name if name != "" else f"Unnamed: {i}" for i, name in enumerate(header)]
    return _dedup_names(names), rows


def get_csv_columns(file_path):
    try:
        columns, _ = read_table(file_path)
        return columns
    except Exception as e:
        raise ValueError(f"Could not read CSV file: {str(e)}")


_CLAUSE = re.compile(r"([<>!=]=?|BETWEEN|IN)\s*(.+)", re.IGNORECASE)


def parse_where_clause(value, condition):
    """Evaluate one legacy filter expression against one cell.

    Returns True/False; raises ValueError for an unparsable expression or a
    non-numeric operand (the caller then drops the row).
    """
    if not condition or condition.strip() == "":
        return True

    match = _CLAUSE.match(condition)
    if not match:
        raise ValueError(f"Invalid WHERE clause: {condition}")
    operator, expression = match.groups()
    operator = operator.upper()

    try:
        num_value = float(value)
    except ValueError:
        num_value = None
        value = str(value).strip()

    if operator == ">":
        return num_value is not None and num_value > float(expression)
    if operator == "<":
        return num_value is not None and num_value < float(expression)
    if operator == ">=":
        return num_value is not None and num_value >= float(expression)
    if operator == "<=":
        return num_value is not None and num_value <= float(expression)
    if operator == "BETWEEN":
        bounds = expression.replace("AND", "").split()
        if len(bounds) != 2:
            raise ValueError(f"Invalid BETWEEN clause: {condition}")
        low, high = float(bounds[0]), float(bounds[1])
        return num_value is not None and low <= num_value <= high
    if operator == "IN":
        items = [item.strip().strip("'\"") for item in expression.strip("()").split(",")]
        return str(value) in set(items)
    if operator in ("=", "=="):
        return value == expression.strip("'\"")
    if operator == "!=":
        return value != expression.strip("'\"")
    return True  # a bare "!" filters nothing


def filter_csv_with_where(file_path, selected_columns, where_clauses):
    """The legacy cut: selected columns in request order, AND of all filters.

    A selected column missing from the file raises KeyError and a short row
    raises TypeError (both 500 in legacy); only ValueError becomes a 400.
    """
    with open(file_path, "r", newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        lines = [",".join(selected_columns)]
        for row in reader:
            keep = True
            for column, condition in where_clauses.items():
                if column in row:
                    try:
                        if not parse_where_clause(row[column], condition):
                            keep = False
                            break
                    except ValueError:
                        keep = False
                        break
            if keep:
                lines.append(",".join(row[column] for column in selected_columns))
    return "\n".join(lines)
