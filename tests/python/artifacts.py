"""Python Optuna's side of the artifact interoperability tests (tests/compat_optuna_artifacts.rs).

usage:
  artifacts.py create JOURNAL STUDY               a study with one RUNNING trial (number 0)
  artifacts.py upload JOURNAL STORE STUDY TRIAL FILE
                                                  optuna.artifacts.upload_artifact; TRIAL is a
                                                  trial number or "study"; prints the id
  artifacts.py meta JOURNAL STUDY TRIAL           get_all_artifact_meta as JSON, plus each link's
                                                  raw attribute value
  artifacts.py download STORE ID OUT              optuna.artifacts.download_artifact
  artifacts.py tombstone JOURNAL STUDY TRIAL ID   optuna-dashboard's deletion mark: the link
                                                  becomes json.dumps(None) (bytes are left)
  artifacts.py mimetypes NAME...                  Python's built-in guess_type for each name

STORE is fs:DIR (FileSystemArtifactStore) or s3:BUCKET@ENDPOINT (Boto3ArtifactStore with the
credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, region us-east-1).
"""

import json
import mimetypes
import sys
import warnings

import optuna
from optuna.artifacts import (
    Boto3ArtifactStore,
    FileSystemArtifactStore,
    download_artifact,
    get_all_artifact_meta,
    upload_artifact,
)
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

warnings.simplefilter("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)


def storage(path):
    return JournalStorage(JournalFileBackend(path))


def store(spec):
    kind, _, rest = spec.partition(":")
    if kind == "fs":
        return FileSystemArtifactStore(rest)
    import boto3

    bucket, _, endpoint = rest.partition("@")
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    return Boto3ArtifactStore(bucket, client)


def owner(st, study_name, trial):
    study = optuna.load_study(study_name=study_name, storage=st)
    if trial == "study":
        return study
    return study.get_trials(deepcopy=False)[int(trial)]


def main(argv):
    cmd = argv[0]
    if cmd == "create":
        study = optuna.create_study(study_name=argv[2], storage=storage(argv[1]))
        study.ask()
    elif cmd == "upload":
        st = storage(argv[1])
        target = owner(st, argv[3], argv[4])
        print(upload_artifact(artifact_store=store(argv[2]), file_path=argv[5],
                              study_or_trial=target, storage=st))
    elif cmd == "meta":
        st = storage(argv[1])
        target = owner(st, argv[2], argv[3])
        metas = get_all_artifact_meta(target, storage=st)
        if isinstance(target, optuna.Study):
            attrs = st.get_study_system_attrs(target._study_id)
        else:
            attrs = st.get_trial_system_attrs(target._trial_id)
        out = []
        for m in metas:
            raw = attrs["artifacts:" + m.artifact_id]
            out.append({"artifact_id": m.artifact_id, "filename": m.filename,
                        "mimetype": m.mimetype, "encoding": m.encoding, "raw": raw,
                        # Python's own json.dumps of what it parsed (key order kept).
                        "redumped": json.dumps(json.loads(raw))})
        print(json.dumps(out))
    elif cmd == "download":
        download_artifact(artifact_store=store(argv[1]), artifact_id=argv[2], file_path=argv[3])
    elif cmd == "tombstone":
        st = storage(argv[1])
        target = owner(st, argv[2], argv[3])
        key = "artifacts:" + argv[4]
        if isinstance(target, optuna.Study):
            st.set_study_system_attr(target._study_id, key, json.dumps(None))
        else:
            st.set_trial_system_attr(target._trial_id, key, json.dumps(None))
    elif cmd == "mimetypes":
        m = mimetypes.MimeTypes(filenames=())
        print(json.dumps([list(m.guess_type(name)) for name in argv[1:]]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
