import gzip
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.models import Snapshot
from curation.services.datasets import downloads, snapshot_dir


@pytest.fixture
def snapshot(project, approved, build):
    for i in range(60):
        approved(f"question {i}: " + "words " * (i % 7), f"answer {i} " + "more " * (i % 5))
    return build(project, validation_fraction=0.25)


@pytest.fixture
def reader(api):
    return api("reader")


def url(project, snapshot, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/v1/projects/{project.slug}/snapshots/{snapshot.pk}/download/" + (f"?{query}" if query else "")


def body(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def file_bytes(artifact_dir, snapshot, *names):
    return b"".join((artifact_dir / snapshot.files[n]).read_bytes() for n in names)


def drop_files(snapshot):
    """As on a web server that does not share ARTIFACT_DIR with the workers."""
    shutil.rmtree(snapshot_dir(snapshot.content_hash))


def test_a_split_downloads_as_its_file_with_an_etag(reader, project, snapshot, artifact_dir):
    response = reader.get(url(project, snapshot, format="jsonl", split="train"))
    assert response.status_code == 200 and response["Content-Type"] == "application/jsonl"
    assert body(response) == file_bytes(artifact_dir, snapshot, "train.jsonl")
    assert response["ETag"] == f'"{snapshot.content_hash}.jsonl.train"'
    assert int(response["Content-Length"]) == len(file_bytes(artifact_dir, snapshot, "train.jsonl"))
    assert response["Accept-Ranges"] == "bytes" and "attachment" in response["Content-Disposition"]


def test_without_a_split_it_is_train_then_validation(reader, project, snapshot, artifact_dir):
    response = reader.get(url(project, snapshot, format="chat"))
    assert body(response) == file_bytes(artifact_dir, snapshot, "train.chat.jsonl", "validation.chat.jsonl")
    assert response["ETag"].endswith('.chat.all"')


def test_if_none_match_answers_304(reader, project, snapshot):
    etag = reader.get(url(project, snapshot, split="train"))["ETag"]
    again = reader.get(url(project, snapshot, split="train"), HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag and not again.content
    other = reader.get(url(project, snapshot, split="validation"), HTTP_IF_NONE_MATCH=etag)
    assert other.status_code == 200


@pytest.mark.parametrize("from_database", [False, True])
def test_a_resumed_download_yields_identical_bytes(reader, project, snapshot, artifact_dir, from_database):
    full = body(reader.get(url(project, snapshot, format="jsonl")))
    assert full == file_bytes(artifact_dir, snapshot, "train.jsonl", "validation.jsonl")
    etag = reader.get(url(project, snapshot, format="jsonl"))["ETag"]
    if from_database:
        drop_files(snapshot)
    for cut in (1, 777, len(full) // 2, len(full) - 1):
        partial = reader.get(url(project, snapshot, format="jsonl"), HTTP_RANGE=f"bytes={cut}-", HTTP_IF_RANGE=etag)
        assert partial.status_code == 206
        assert partial["Content-Range"] == f"bytes {cut}-{len(full) - 1}/{len(full)}"
        assert full[:cut] + body(partial) == full
    middle = reader.get(url(project, snapshot, format="jsonl"), HTTP_RANGE="bytes=100-199")
    assert body(middle) == full[100:200] and middle["Content-Length"] == "100"
    suffix = reader.get(url(project, snapshot, format="jsonl"), HTTP_RANGE="bytes=-50")
    assert body(suffix) == full[-50:]


def test_a_range_past_the_end_is_416_and_a_stale_if_range_gets_everything(reader, project, snapshot):
    full = body(reader.get(url(project, snapshot, split="train")))
    past = reader.get(url(project, snapshot, split="train"), HTTP_RANGE=f"bytes={len(full)}-")
    assert past.status_code == 416 and past["Content-Range"] == f"bytes */{len(full)}"
    stale = reader.get(url(project, snapshot, split="train"), HTTP_RANGE="bytes=10-", HTTP_IF_RANGE='"an-old-etag"')
    assert stale.status_code == 200 and body(stale) == full
    several = reader.get(url(project, snapshot, split="train"), HTTP_RANGE="bytes=0-1,5-6")
    assert several.status_code == 200 and body(several) == full


def test_accept_encoding_gzip_compresses_on_the_wire(reader, project, snapshot, artifact_dir):
    response = reader.get(url(project, snapshot, format="jsonl"), HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert response["Content-Encoding"] == "gzip" and "Accept-Encoding" in response["Vary"]
    assert response["ETag"].endswith('.jsonl.all.gz"')
    assert gzip.decompress(body(response)) == file_bytes(artifact_dir, snapshot, "train.jsonl", "validation.jsonl")
    refused = reader.get(url(project, snapshot, format="jsonl"), HTTP_ACCEPT_ENCODING="gzip;q=0")
    assert "Content-Encoding" not in refused


def test_a_range_request_is_never_content_encoded(reader, project, snapshot, artifact_dir):
    response = reader.get(url(project, snapshot, split="train"), HTTP_ACCEPT_ENCODING="gzip", HTTP_RANGE="bytes=5-")
    assert response.status_code == 206 and "Content-Encoding" not in response
    assert body(response) == file_bytes(artifact_dir, snapshot, "train.jsonl")[5:]


@pytest.mark.parametrize("from_database", [False, True])
def test_compression_gzip_serves_the_resumable_gz_file(reader, project, snapshot, artifact_dir, from_database):
    expected = file_bytes(artifact_dir, snapshot, "train.jsonl.gz", "validation.jsonl.gz")
    if from_database:
        drop_files(snapshot)
    response = reader.get(url(project, snapshot, compression="gzip"))
    assert response["Content-Type"] == "application/gzip" and "Content-Encoding" not in response
    assert response["Content-Disposition"].endswith('.jsonl.gz"')
    data = body(response)
    assert data == expected
    # Concatenated gzip members are one valid gzip stream: both splits, in order.
    assert gzip.decompress(data).count(b"\n") == snapshot.row_count
    resumed = reader.get(url(project, snapshot, compression="gzip"), HTTP_RANGE="bytes=40-")
    assert data[:40] + body(resumed) == data


def test_parquet_downloads_per_split_and_reads_back(reader, project, snapshot, tmp_path):
    response = reader.get(url(project, snapshot, format="parquet", split="validation"))
    assert response["Content-Type"] == "application/vnd.apache.parquet"
    path = tmp_path / "v.parquet"
    path.write_bytes(body(response))
    assert pq.read_table(path).num_rows == snapshot.validation_count
    assert isinstance(pq.read_table(path), pa.Table)


@pytest.mark.parametrize(
    "params, field",
    [
        ({"format": "parquet"}, "split"),
        ({"format": "parquet", "split": "train", "compression": "gzip"}, "compression"),
        ({"format": "csv"}, "format"),
        ({"split": "test"}, "split"),
        ({"compression": "brotli"}, "compression"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_download_parameters_are_400_naming_them(reader, project, snapshot, params, field):
    response = reader.get(url(project, snapshot, **params))
    assert response.status_code == 400 and field in response.json()


def test_a_building_snapshot_is_409_not_an_empty_file(reader, project, engineer):
    snap = Snapshot.objects.create(project=project, name="later")
    response = reader.get(url(project, snap))
    assert response.status_code == 409 and "still being built" in response.json()["snapshot"][0]


def test_a_missing_parquet_file_is_409_while_jsonl_still_streams(reader, project, snapshot, artifact_dir):
    expected = file_bytes(artifact_dir, snapshot, "train.jsonl")
    drop_files(snapshot)
    assert reader.get(url(project, snapshot, format="parquet", split="train")).status_code == 409
    assert body(reader.get(url(project, snapshot, split="train"))) == expected


def test_head_gives_the_headers_without_the_body(reader, project, snapshot, artifact_dir):
    response = reader.head(url(project, snapshot, split="train"))
    assert response.status_code == 200 and response.content == b""
    assert int(response["Content-Length"]) == len(file_bytes(artifact_dir, snapshot, "train.jsonl"))


def test_another_projects_snapshot_is_404(api, project, snapshot):
    from tests.factories import MembershipFactory, ProjectFactory

    other = ProjectFactory()
    client = api("reader")
    MembershipFactory(user=client.get("/api/v1/tokens/").wsgi_request.user, project=other, role="reader")
    response = client.get(f"/api/v1/projects/{other.slug}/snapshots/{snapshot.pk}/download/")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "header, size, expected",
    [
        ("bytes=0-9", 100, (0, 10)),
        ("bytes=90-", 100, (90, 100)),
        ("bytes=-10", 100, (90, 100)),
        ("bytes=95-200", 100, (95, 100)),
        ("bytes=100-", 100, "unsatisfiable"),
        ("bytes=-0", 100, "unsatisfiable"),
        ("bytes=5-1", 100, None),
        ("items=0-1", 100, None),
        ("bytes=a-b", 100, None),
        ("bytes=0-1,3-4", 100, None),
        (None, 100, None),
        ("bytes=0-", 0, "unsatisfiable"),
    ],
)
def test_range_headers_are_read_as_rfc_9110_says(header, size, expected):
    assert downloads.parse_range(header, size) == expected


# A real server streams after the request's transaction has committed (autocommit), so this test does too.
@pytest.mark.django_db(transaction=True)
def test_a_client_that_stops_reading_leaves_the_database_usable(reader, project, snapshot, monkeypatch):
    from curation.services.datasets import exports

    monkeypatch.setattr(exports, "CHUNK_BYTES", 256)
    monkeypatch.setattr(exports, "SQLITE_FETCH", 3)
    drop_files(snapshot)
    response = reader.get(url(project, snapshot, split="train"))
    chunks = iter(response.streaming_content)
    assert next(chunks) and next(chunks)
    response.close()  # what the WSGI server does when the client hangs up
    assert Snapshot.objects.get(pk=snapshot.pk).row_count == snapshot.row_count
    assert body(reader.get(url(project, snapshot, split="validation"))).count(b"\n") == snapshot.validation_count
