# shellcheck shell=bash
# scripts/test's clean-up: removes what test runs of this checkout created and left behind,
# and nothing else (other projects' testcontainers, other checkouts' tests, anything
# unlabelled stay). Source it; it defines functions only.

# Removes, for checkout $1 and run $2 (WEBSTACK_TEST_RUN, "<pid>-<start time>"):
# - containers, networks and volumes labelled org.webstack.test-repo=$1 whose
#   org.webstack.test-run is $2, or an earlier run's whose process is gone;
# - compose projects named webstack-test-* whose compose file lies in $1 (the tests'
#   stacks, the example consumer's included).
remove_test_resources() {
  local repo run=$2 kind id owner
  # The folder as node names it (test/support/labels.ts): symbolic links resolved.
  repo=$(cd "$1" && pwd -P)
  for kind in container network volume; do
    local list=(ls) name=.ID
    [ "$kind" = container ] && list=(ls -a)
    [ "$kind" = volume ] && name=.Name
    docker "$kind" "${list[@]}" --filter "label=org.webstack.test-repo=$repo" \
      --format "{{$name}} {{.Label \"org.webstack.test-run\"}}" |
      while read -r id owner; do
        if [ "$owner" = "$run" ] || ! kill -0 "${owner%%-*}" 2>/dev/null; then
          if [ "$kind" = container ]; then docker rm -f -v "$id" >/dev/null; else docker "$kind" rm "$id" >/dev/null; fi
        fi
      done
  done
  # shellcheck disable=SC2016 # JavaScript in single quotes, not shell
  docker compose ls -a --format json 2>/dev/null |
    REPO="$repo/" node -e 'for (const p of JSON.parse(require("fs").readFileSync(0, "utf8") || "[]")) if (p.Name.startsWith("webstack-test-") && p.ConfigFiles.startsWith(process.env.REPO)) console.log(p.Name)' |
    while read -r project; do
      # A deploy test that died mid-deploy leaves its second app container outside compose's list.
      docker rm -f -v "$project-app-5001" >/dev/null 2>&1 || true
      docker compose -p "$project" down --volumes --remove-orphans >/dev/null 2>&1 || true
    done
}
