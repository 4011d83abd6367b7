"""What ``hdfs://`` storage lacks on this machine, found before pyarrow is asked.

pyarrow's HadoopFileSystem loads libhdfs and a JVM when it connects; without them it fails
with a page of dlopen errors. libhdfs comes from ``ARROW_LIBHDFS_DIR`` or
``$HADOOP_HOME/lib/native``, the JVM from ``JAVA_HOME``, and the JVM finds Hadoop's classes
only through ``CLASSPATH``.
"""

from __future__ import annotations

import os
from pathlib import Path

SCHEMES = frozenset({"hdfs", "viewfs"})
CLASSPATH_HINT = "export CLASSPATH=$(hadoop classpath --glob)"


def missing_hadoop() -> list[str]:
    """What is missing for pyarrow to reach HDFS, one phrase each; empty when nothing is."""
    missing = []
    libhdfs = _libhdfs_dir()
    if libhdfs is None:
        missing.append("HADOOP_HOME (or ARROW_LIBHDFS_DIR) is not set")
    elif not (libhdfs / "libhdfs.so").is_file():
        missing.append(f"there is no libhdfs.so in {libhdfs}")
    java = os.environ.get("JAVA_HOME")
    if not java:
        missing.append("JAVA_HOME is not set")
    elif next(Path(java).rglob("libjvm.so"), None) is None:
        missing.append(f"there is no libjvm.so under JAVA_HOME ({java})")
    if "hadoop" not in os.environ.get("CLASSPATH", "").lower():
        missing.append(f"CLASSPATH holds no Hadoop jars ({CLASSPATH_HINT})")
    return missing


def _libhdfs_dir() -> Path | None:
    if os.environ.get("ARROW_LIBHDFS_DIR"):
        return Path(os.environ["ARROW_LIBHDFS_DIR"])
    if os.environ.get("HADOOP_HOME"):
        return Path(os.environ["HADOOP_HOME"]) / "lib" / "native"
    return None
