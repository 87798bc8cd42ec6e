#!/usr/bin/env bash
# Fetches (or reuses) the real Apache Kafka broker the stream tests run against: the broker's jars
# and their runtime dependencies, resolved by Maven from Maven Central into a cache outside the
# repository. Runs on the machine's Java 17 (Kafka 4 brokers need 17+), in KRaft mode; see
# test/support/kafka.ts. Prints the libs directory on its last line.
set -euo pipefail

kafka_version=4.4.0
# The SLF4J 1.x binding for the log4j-core that kafka_2.13 brings, so the broker logs through our
# log4j2 configuration instead of dropping everything (Kafka's distribution ships the same pair).
log4j_version=2.25.5
dependency_plugin=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
cache_root=${SENTIMENT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sentiment-operator}
libs="$cache_root/kafka-$kafka_version/libs"

if [ ! -f "$libs/.complete" ]; then
  if ! command -v mvn >/dev/null || ! command -v java >/dev/null; then
    apt-get -o DPkg::Lock::Timeout=900 update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q openjdk-17-jre-headless maven >&2
  fi
  echo "fetching Apache Kafka $kafka_version from Maven Central ..." >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.sentiment-operator</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$kafka_version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$log4j_version</version></dependency>
  </dependencies>
</project>
POM
  # A throwaway local repository: the cache keeps one copy of the jars, and a fresh machine and
  # this one take the same path.
  mvn -q -B -Dstyle.color=never -Dmaven.repo.local="$work/m2" -f "$work/pom.xml" "$dependency_plugin:copy-dependencies" \
    -DincludeScope=runtime -DoutputDirectory="$work/libs" >&2
  rm -rf "$libs"
  mkdir -p "$(dirname "$libs")"
  mv "$work/libs" "$libs"
  touch "$libs/.complete"
fi

java -version 2>&1 | head -n 1 >&2
echo "$libs"
