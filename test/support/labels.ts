// What a test creates outside compose carries testcontainers' label, so that scripts/test
// removes it (containers, networks, volumes) when a run was cut short.
export const TEST_LABEL = { 'org.testcontainers': 'true' };
