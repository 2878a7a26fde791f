#!/usr/bin/env bash
# Builds the example MetalK8s Solution ISOs in tests/solutions/ the way the MetalK8s example
# Solution does (spec: ../shared/spec/metalk8s-solutions.md §10), without docker:
#
#   1. two tiny OCI image layouts, written by the embedded Python helper;
#   2. skopeo --insecure-policy copy --format v2s2 --dest-compress oci:... dir:ISO_ROOT/images/<n>/<t>;
#   3. hardlink -c ISO_ROOT/images;
#   4. registry-config.inc.j2 from our own generator (the format of §5.3, see README.md);
#   5. operator/deploy/{crds/*_crd.yaml,role.yaml} and manifest.yaml;
#   6. genisoimage with the documented flags.
#
# Then one broken copy of the good tree per validation rule, four good copies with one CRD
# change each (upgrade-crd-*, for `isolution upgrade-plan`), an expected-findings file for
# every ISO (expected/<iso-name>.findings), and a set of solutions.yaml files with their
# expected findings (config/). See README.md for every file and every expected finding.
#
#   bash tests/solutions/build.sh        # about 8 s
#
# Needs: genisoimage (and its isoinfo), skopeo, util-linux hardlink, python3 with PyYAML.
# Everything is built in a temporary directory, checked, and copied into tests/solutions/ only
# when every check passed; then the old generated files are replaced.
#
# Reproducibility: SOURCE_DATE_EPOCH, umask 022, LC_ALL=C.UTF-8, TZ=UTC, fixed modes and
# mtimes on the staged trees. Image blobs, manifest.json files, manifest.yaml,
# registry-config.inc.j2, the operator files and all expected files are byte-identical from
# run to run. The ISO bytes are not: genisoimage 1.1.11 ignores SOURCE_DATE_EPOCH (volume
# dates come from the clock) and its Rock Ridge TF entries record the staged files' atime and
# ctime.
set -euo pipefail
umask 022
export LC_ALL=C.UTF-8 TZ=UTC SOURCE_DATE_EPOCH=1700000000   # 2023-11-14T22:13:20Z

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

for tool in genisoimage isoinfo skopeo hardlink python3 stat; do
    command -v "$tool" >/dev/null || { echo "build.sh: $tool not found" >&2; exit 1; }
done
python3 -c 'import yaml' 2>/dev/null || { echo "build.sh: python3 needs PyYAML" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/isolution-solutions.XXXXXX")
cleanup() { chmod -R u+rwX "$WORK" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
OUT=$WORK/out          # checked outputs, copied to $HERE at the end
LOG=$WORK/log
TREES=$WORK/trees
LAYOUTS=$WORK/layouts
mkdir -p "$OUT/expected" "$OUT/config" "$LOG" "$TREES" "$LAYOUTS"
start=$SECONDS

# -----------------------------------------------------------------------------------------
# Python helper: OCI layouts, manifest.yaml, operator files, registry config, edits, checks.
# -----------------------------------------------------------------------------------------
cat > "$WORK/helper.py" <<'PYEOF'
import argparse, gzip, hashlib, io, json, os, re, sys, tarfile
import yaml

EPOCH = int(os.environ['SOURCE_DATE_EPOCH'])
CREATED = '2023-11-14T22:13:20Z'   # EPOCH in RFC 3339

OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
OCI_CONFIG = 'application/vnd.oci.image.config.v1+json'
OCI_LAYER_GZ = 'application/vnd.oci.image.layer.v1.tar+gzip'
V2S2 = 'application/vnd.docker.distribution.manifest.v2+json'
HEX64 = re.compile(r'^[0-9a-f]{64}$')


def die(msg):
    sys.exit('helper: ' + msg)


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def cjson(obj):
    return json.dumps(obj, sort_keys=True, separators=(',', ':')).encode()


def replace_file(path, data):
    """Write a new inode (tmp + rename), so hard-linked copies keep the old bytes."""
    tmp = path + '.tmp-helper'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, path)


# ---- 1. OCI image layouts ----------------------------------------------------------------
def make_tar(entries):
    """entries: (path, mode, data or None for a directory). Fixed mtime, uid/gid 0."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.USTAR_FORMAT) as tf:
        for path, mode, data in entries:
            ti = tarfile.TarInfo(path)
            ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname, ti.mode = EPOCH, 0, 0, 'root', 'root', mode
            if data is None:
                ti.type = tarfile.DIRTYPE
                tf.addfile(ti)
            else:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def layer(entries):
    raw = make_tar(entries)
    return raw, gzip.compress(raw, compresslevel=9, mtime=0)


BASE_LAYER = layer([
    ('etc/', 0o755, None),
    ('etc/os-release', 0o644, b'NAME="isolution test base"\nID=isolution\nVERSION_ID=1\n'),
    ('etc/passwd', 0o644, b'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n'),
    ('etc/group', 0o644, b'root:x:0:\nnogroup:x:65534:\n'),
])
SERVER_LAYER = layer([
    ('srv/', 0o755, None),
    ('srv/www/', 0o755, None),
    ('srv/www/index.html', 0o644, b'<!doctype html><title>base-server</title><p>Example Solution base server</p>\n'),
    ('usr/', 0o755, None),
    ('usr/local/', 0o755, None),
    ('usr/local/bin/', 0o755, None),
    ('usr/local/bin/base-server', 0o755,
     b'#!/bin/sh\n# Serves /srv/www (stand-in for the Example Solution base-server)\n'
     b'exec httpd -f -p "${PORT:-8080}" -h /srv/www\n'),
])
OPERATOR_LAYER = layer([
    ('usr/', 0o755, None),
    ('usr/local/', 0o755, None),
    ('usr/local/bin/', 0o755, None),
    ('usr/local/bin/example-solution-operator', 0o755,
     b'#!/bin/sh\n# Stand-in for the Example Solution Operator (manages ClockServer and VersionServer)\n'
     b'echo "example-solution-operator 1.0.2: watching ${WATCH_NAMESPACE:-all namespaces}"\n'
     b'exec sleep infinity\n'),
])

IMAGES = {
    'base-server': {
        'layers': [BASE_LAYER, SERVER_LAYER],
        'config': {'Entrypoint': ['/usr/local/bin/base-server'], 'ExposedPorts': {'8080/tcp': {}},
                   'Env': ['PATH=/usr/local/bin:/usr/bin:/bin', 'PORT=8080'],
                   'Labels': {'org.opencontainers.image.title': 'base-server'},
                   'User': '65534:65534', 'WorkingDir': '/srv/www'},
    },
    'example-solution-operator': {
        'layers': [BASE_LAYER, OPERATOR_LAYER],
        'config': {'Entrypoint': ['/usr/local/bin/example-solution-operator'],
                   'Env': ['PATH=/usr/local/bin:/usr/bin:/bin'],
                   'Labels': {'org.opencontainers.image.title': 'example-solution-operator'},
                   'User': '65534:65534', 'WorkingDir': '/'},
    },
}


def blob_writer(root):
    """put(data) -> (digest, size): writes data as ROOT/blobs/sha256/<hex>."""
    blobs = os.path.join(root, 'blobs', 'sha256')
    os.makedirs(blobs, exist_ok=True)

    def put(data):
        d = sha256(data)
        with open(os.path.join(blobs, d), 'wb') as f:
            f.write(data)
        return 'sha256:' + d, len(data)
    return put


def image_manifest(spec, put, arch='amd64', variant=None):
    """Writes the layers and config of image SPEC for ARCH/VARIANT, then its OCI manifest;
    returns the manifest's (digest, size)."""
    layers = []
    for raw, gz in spec['layers']:
        digest, size = put(gz)
        layers.append({'mediaType': OCI_LAYER_GZ, 'digest': digest, 'size': size,
                       'diff_id': 'sha256:' + sha256(raw)})
    config = {
        'architecture': arch, 'os': 'linux', 'created': CREATED,
        'config': spec['config'],
        'rootfs': {'type': 'layers', 'diff_ids': [l['diff_id'] for l in layers]},
        'history': [{'created': CREATED, 'created_by': 'isolution tests/solutions/build.sh: layer %d' % i}
                    for i in range(len(layers))],
    }
    if variant:
        config['variant'] = variant
    cdigest, csize = put(cjson(config))
    manifest = {
        'schemaVersion': 2, 'mediaType': OCI_MANIFEST,
        'config': {'mediaType': OCI_CONFIG, 'digest': cdigest, 'size': csize},
        'layers': [{'mediaType': l['mediaType'], 'digest': l['digest'], 'size': l['size']} for l in layers],
    }
    return put(cjson(manifest))


def write_index(root, entries):
    """ROOT/index.json naming ENTRIES, and ROOT/oci-layout."""
    with open(os.path.join(root, 'index.json'), 'wb') as f:
        f.write(cjson({'schemaVersion': 2, 'mediaType': OCI_INDEX, 'manifests': entries}))
    with open(os.path.join(root, 'oci-layout'), 'wb') as f:
        f.write(cjson({'imageLayoutVersion': '1.0.0'}))


def cmd_layouts(a):
    for name, spec in IMAGES.items():
        root = os.path.join(a.out, name)
        mdigest, msize = image_manifest(spec, blob_writer(root))
        write_index(root, [{'mediaType': OCI_MANIFEST, 'digest': mdigest, 'size': msize,
                            'annotations': {'org.opencontainers.image.ref.name': t}}
                           for t in a.tags[name]])


def cmd_multiarch_layout(a):
    """An OCI layout whose tag is an index of two platforms of base-server: linux/amd64 (the
    very config and layers of the single-platform base-server, so that skopeo gives the same
    v2s2 manifest and hardlink merges it) and linux/arm64/v8 (its own config, same layers)."""
    put = blob_writer(a.out)
    entries = []
    for arch, variant in (('amd64', None), ('arm64', 'v8')):
        mdigest, msize = image_manifest(IMAGES['base-server'], put, arch, variant)
        platform = {'architecture': arch, 'os': 'linux'}
        if variant:
            platform['variant'] = variant
        entries.append({'mediaType': OCI_MANIFEST, 'digest': mdigest, 'size': msize, 'platform': platform})
    idigest, isize = put(cjson({'schemaVersion': 2, 'mediaType': OCI_INDEX, 'manifests': entries}))
    write_index(a.out, [{'mediaType': OCI_INDEX, 'digest': idigest, 'size': isize,
                         'annotations': {'org.opencontainers.image.ref.name': a.tag}}])


# ---- 2. registry-config.inc.j2 (format: README.md, "registry-config.inc.j2") -------------
CONSTANTS = [
    'location = /v2 {\n'
    '    return 301 /v2/;\n'
    '}',
    'location = /v2/ {\n'
    '    add_header \'Docker-Distribution-Api-Version\' \'registry/2.0\' always;\n'
    '    types { } default_type "text/plain";\n'
    '    return 200 \'ok\';\n'
    '}',
    'location @404_tag {\n'
    '    internal;\n'
    '    types { } default_type "application/json";\n'
    '    return 404 \'{"errors": [{"code": "TAG_INVALID", "message": "manifest tag did not match URI", "detail": ""}]}\';\n'
    '}',
]


def find_images(root):
    """{name: [(tag, manifest hex digest)]}: only Docker v2s2 manifests, names and tags sorted."""
    images = {}
    if not os.path.isdir(root):
        return images
    for name in sorted(os.listdir(root)):
        ndir = os.path.join(root, name)
        if not os.path.isdir(ndir):
            continue
        for tag in sorted(os.listdir(ndir)):
            tdir = os.path.join(ndir, tag)
            if not os.path.isdir(tdir):
                continue
            try:
                with open(os.path.join(tdir, 'manifest.json'), 'rb') as f:
                    raw = f.read()
                m = json.loads(raw)
            except (OSError, ValueError):
                continue
            if not isinstance(m, dict) or not m or m.get('schemaVersion') != 2 or m.get('mediaType') != V2S2:
                continue
            images.setdefault(name, []).append((tag, sha256(raw)))
    return images


def manifest_block(prefix, root, name, tag, reference, digest):
    return ('location = "/v2/{p}/{n}/manifests/{r}" {{\n'
            '    alias {root}/{n}/{t}/;\n'
            '    types {{ }} default_type "{mt}";\n'
            '    add_header \'Docker-Content-Digest\' \'sha256:{d}\';\n'
            '    try_files manifest.json =404;\n'
            '    error_page 404 @404_tag;\n'
            '}}').format(p=prefix, n=name, r=reference, root=root, t=tag, mt=V2S2, d=digest)


def render_registry(images, prefix, root, constants):
    parts = list(CONSTANTS) if constants else []
    for name, tags in images.items():
        listing = json.dumps({'name': name, 'tags': [t for t, _ in tags]})
        parts.append('location = /v2/{p}/{n}/tags/list {{\n'
                     '    types {{ }} default_type "application/json";\n'
                     '    return 200 \'{j}\';\n'
                     '}}'.format(p=prefix, n=name, j=listing))
        served = set()
        for tag, digest in tags:
            parts.append(manifest_block(prefix, root, name, tag, tag, digest))
            if digest in served:
                parts.append('# Digest for "%s:%s" already served' % (name, tag))
            else:
                served.add(digest)
                parts.append(manifest_block(prefix, root, name, tag, 'sha256:' + digest, digest))
        parts.append('location ~ "/v2/{p}/{n}/blobs/sha256:([a-f0-9]{{64}})" {{\n'
                     '    alias {root}/{n}/;\n'
                     '    try_files {tries} =404;\n'
                     '}}'.format(p=prefix, n=name, root=root,
                                 tries=' '.join('%s/$1' % t for t, _ in tags)))
    return '\n\n'.join(parts) + '\n' if parts else ''


def cmd_registry(a):
    sys.stdout.write(render_registry(find_images(a.images), '{{ repository }}', '{{ registry_root }}',
                                     a.with_constants))


# ---- 3. manifest.yaml and operator files ------------------------------------------------
def cmd_manifest(a):
    annotations = {
        'solutions.metalk8s.scality.com/build-host': 'build.example.invalid',
        'solutions.metalk8s.scality.com/build-timestamp': CREATED,
        'solutions.metalk8s.scality.com/development-release': '0',
        'solutions.metalk8s.scality.com/display-name': a.display_name,
        'solutions.metalk8s.scality.com/git-revision': a.git_revision,
    }
    metadata = {'annotations': annotations, 'labels': {}}
    if a.name is not None:
        metadata['name'] = a.name
    spec = {'images': sorted(a.image), 'operator': {'image': {'name': a.op_name, 'tag': a.op_tag}}}
    if a.version_yaml is not None:
        spec['version'] = '@VERSION@'
    doc = {'apiVersion': a.api_version, 'kind': a.kind, 'metadata': metadata, 'spec': spec}
    text = yaml.safe_dump(doc, default_flow_style=False)
    if a.version_yaml is not None:
        text = text.replace("  version: '@VERSION@'\n", '  version: %s\n' % a.version_yaml)
        if '@VERSION@' in text:
            die('version placeholder not replaced')
    if a.break_yaml:   # an unterminated double-quoted scalar: not YAML
        if not text.endswith('  version: "1.0.2"\n'):
            die('break-yaml expects the version line last')
        text = text[:-2] + '\n'   # drop the closing quote
        try:
            yaml.safe_load(text)
            die('manifest meant to be invalid YAML parses')
        except yaml.YAMLError:
            pass
    else:
        yaml.safe_load(text)
    sys.stdout.write(text)


def yaml_bool(b):
    if not isinstance(b, bool):
        die('not a bool: %r' % (b,))
    return 'true' if b else 'false'


def crd(plural, kind, description, versions):
    """One apiextensions.k8s.io/v1 CustomResourceDefinition, as YAML text written out line by line.

    versions: [(name, served, storage, props)], written in that order; props: the properties of
    `spec` in that version's schema, [(name, type, description)]. Every version gets the status
    subresource and the same schema around `spec`.
    """
    singular = kind.lower()
    lines = [
        'apiVersion: apiextensions.k8s.io/v1',
        'kind: CustomResourceDefinition',
        'metadata:',
        '  name: %s.example-solution.metalk8s.scality.com' % plural,
        'spec:',
        '  group: example-solution.metalk8s.scality.com',
        '  names:',
        '    kind: %s' % kind,
        '    listKind: %sList' % kind,
        '    plural: %s' % plural,
        '    singular: %s' % singular,
        '  scope: Namespaced',
        '  versions:',
    ]
    for vname, served, storage, props in versions:
        lines += [
            '  - name: %s' % vname,
            '    served: %s' % yaml_bool(served),
            '    storage: %s' % yaml_bool(storage),
            '    subresources:',
            '      status: {}',
            '    schema:',
            '      openAPIV3Schema:',
            '        description: %s' % description,
            '        type: object',
            '        properties:',
            '          apiVersion:',
            '            type: string',
            '          kind:',
            '            type: string',
            '          metadata:',
            '            type: object',
            '          spec:',
            '            type: object',
            '            properties:',
        ]
        for pname, ptype, pdesc in props:
            lines += ['              %s:' % pname, '                description: %s' % pdesc,
                      '                type: %s' % ptype]
        lines += [
            '          status:',
            '            type: object',
            '            properties:',
            '              ready:',
            '                type: boolean',
        ]
    return '\n'.join(lines) + '\n'


def v1alpha1(props):
    """The versions of every CRD in the good trees: v1alpha1 alone, served and stored."""
    return [('v1alpha1', True, True, props)]


CLOCK_DESC = 'ClockServer serves the current time'
CLOCK_PROPS = [('timezone', 'string', 'Timezone shown by the clock, e.g. UTC'),
               ('version', 'string', 'Version of the base-server image to run')]
CLOCK_FORMAT = ('format', 'string', 'Time format')   # the property v1beta1 adds

CRDS = {
    'clockservers': crd('clockservers', 'ClockServer', CLOCK_DESC, v1alpha1(CLOCK_PROPS)),
    'versionservers': crd('versionservers', 'VersionServer', 'VersionServer serves the version of the Solution',
                          v1alpha1([('replicas', 'integer', 'Number of replicas'),
                                    ('version', 'string', 'Version of the base-server image to run')])),
    'alarmservers': crd('alarmservers', 'AlarmServer', 'AlarmServer rings at scheduled times',
                        v1alpha1([('schedule', 'string', 'Cron schedule of the alarm')])),
}

# The upgrade-crd-* edits (helper crd-edit ROOT EDIT): EDIT -> (plural, the file's new text,
# the expected [(version, served, storage, spec property names)] of the result).
CRD_EDITS = {
    # v1beta1 added next to v1alpha1; v1alpha1 stays the storage version.
    'version-added': ('clockservers', crd('clockservers', 'ClockServer', CLOCK_DESC, [
        ('v1alpha1', True, True, CLOCK_PROPS),
        ('v1beta1', True, False, CLOCK_PROPS + [CLOCK_FORMAT])]),
        [('v1alpha1', True, True, ['timezone', 'version']),
         ('v1beta1', True, False, ['timezone', 'version', 'format'])]),
    # the same two versions, the storage version moved to v1beta1.
    'storage-changed': ('clockservers', crd('clockservers', 'ClockServer', CLOCK_DESC, [
        ('v1alpha1', True, False, CLOCK_PROPS),
        ('v1beta1', True, True, CLOCK_PROPS + [CLOCK_FORMAT])]),
        [('v1alpha1', True, False, ['timezone', 'version']),
         ('v1beta1', True, True, ['timezone', 'version', 'format'])]),
    # v1alpha1 alone, without spec.timezone.
    'field-removed': ('clockservers', crd('clockservers', 'ClockServer', CLOCK_DESC,
                                          v1alpha1([p for p in CLOCK_PROPS if p[0] != 'timezone'])),
                      [('v1alpha1', True, True, ['version'])]),
    # a third CRD file, AlarmServer, next to the two others.
    'crd-added': ('alarmservers', CRDS['alarmservers'], [('v1alpha1', True, True, ['schedule'])]),
}

ROLE = '''---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: example-solution-operator
rules:
- apiGroups:
  - ""
  resources:
  - configmaps
  - pods
  - services
  verbs:
  - create
  - delete
  - get
  - list
  - patch
  - update
  - watch
- apiGroups:
  - apps
  resources:
  - deployments
  verbs:
  - create
  - delete
  - get
  - list
  - patch
  - update
  - watch
- apiGroups:
  - example-solution.metalk8s.scality.com
  resources:
  - clockservers
  - clockservers/status
  - versionservers
  - versionservers/status
  verbs:
  - get
  - list
  - patch
  - update
  - watch
'''

ROLE_BINDING = '''---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: example-solution-operator
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: example-solution-operator
subjects:
- kind: ServiceAccount
  name: example-solution-operator
'''

CLUSTER_ROLE = '''---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: example-solution-operator-nodes
rules:
- apiGroups:
  - ""
  resources:
  - nodes
  verbs:
  - get
  - list
  - watch
'''

CONFIG_MAP = '''apiVersion: v1
kind: ConfigMap
metadata:
  name: example-solution-settings
data:
  timezone: UTC
'''

CRD_PREFIX = 'example-solution.metalk8s.scality.com_'


def cmd_operator(a):
    crds = os.path.join(a.root, 'operator', 'deploy', 'crds')
    os.makedirs(crds, exist_ok=True)
    for plural in ('clockservers', 'versionservers'):
        with open(os.path.join(crds, CRD_PREFIX + plural + '_crd.yaml'), 'w') as f:
            f.write(CRDS[plural])
        check_crd(os.path.join(crds, CRD_PREFIX + plural + '_crd.yaml'))
    with open(os.path.join(a.root, 'operator', 'deploy', 'role.yaml'), 'w') as f:
        f.write(ROLE)


def cmd_operator_defect(a):
    deploy = os.path.join(a.root, 'operator', 'deploy')
    crds = os.path.join(deploy, 'crds')

    def append(path, text):
        with open(path, 'rb') as f:
            old = f.read()
        replace_file(path, old + text.encode())

    if a.defect == 'role-binding':
        append(os.path.join(deploy, 'role.yaml'), ROLE_BINDING)
    elif a.defect == 'cluster-role':
        append(os.path.join(deploy, 'role.yaml'), CLUSTER_ROLE)
    elif a.defect == 'crd-name':
        replace_file(os.path.join(crds, 'foo.yaml'), CRDS['alarmservers'].encode())
    elif a.defect == 'crd-multi-doc':
        append(os.path.join(crds, CRD_PREFIX + 'clockservers_crd.yaml'), '---\n' + CRDS['alarmservers'])
    elif a.defect == 'crd-kind':
        replace_file(os.path.join(crds, CRD_PREFIX + 'settings_crd.yaml'), CONFIG_MAP.encode())
    else:
        die('unknown operator defect ' + a.defect)
    for dirpath, _, files in os.walk(deploy):   # every file must still be YAML
        for fn in files:
            with open(os.path.join(dirpath, fn)) as f:
                list(yaml.safe_load_all(f))


CRD_GROUP = 'example-solution.metalk8s.scality.com'


def check_crd(path):
    """PATH is one valid apiextensions.k8s.io/v1 CustomResourceDefinition, one YAML document,
    named like its file, with exactly one storage version. Returns
    [(version, served, storage, spec property names)]."""
    fn = os.path.basename(path)
    if not (fn.startswith(CRD_PREFIX) and fn.endswith('_crd.yaml')):
        die('%s: not named %s<plural>_crd.yaml' % (path, CRD_PREFIX))
    plural = fn[len(CRD_PREFIX):-len('_crd.yaml')]
    with open(path) as f:
        text = f.read()
    if len(list(yaml.safe_load_all(text))) != 1:
        die('%s: not exactly one YAML document' % path)
    doc = yaml.safe_load(text)

    def need(cond, what):
        if not cond:
            die('%s: %s' % (path, what))

    need(isinstance(doc, dict), 'not a mapping')
    need(doc.get('apiVersion') == 'apiextensions.k8s.io/v1', 'apiVersion')
    need(doc.get('kind') == 'CustomResourceDefinition', 'kind')
    need(doc.get('metadata', {}).get('name') == '%s.%s' % (plural, CRD_GROUP), 'metadata.name')
    spec = doc.get('spec', {})
    need(spec.get('group') == CRD_GROUP, 'spec.group')
    need(spec.get('scope') in ('Namespaced', 'Cluster'), 'spec.scope')
    names = spec.get('names', {})
    need(names.get('plural') == plural and isinstance(names.get('kind'), str), 'spec.names')
    versions = spec.get('versions')
    need(isinstance(versions, list) and versions, 'spec.versions empty')
    out = []
    for v in versions:
        need(isinstance(v.get('name'), str) and re.fullmatch(r'v[0-9]+((alpha|beta)[0-9]+)?', v['name']),
             'version name %r' % v.get('name'))
        need(isinstance(v.get('served'), bool) and isinstance(v.get('storage'), bool),
             '%s: served/storage not booleans' % v['name'])
        schema = v.get('schema', {}).get('openAPIV3Schema', {})
        need(schema.get('type') == 'object', '%s: openAPIV3Schema.type' % v['name'])
        props = schema.get('properties', {}).get('spec', {}).get('properties', {})
        need(all(isinstance(p, dict) and p.get('type') for p in props.values()),
             '%s: spec property without a type' % v['name'])
        out.append((v['name'], v['served'], v['storage'], list(props)))
    need(len({v[0] for v in out}) == len(out), 'duplicate version names')
    need(sum(1 for v in out if v[2]) == 1, 'not exactly one storage version')
    return out


def cmd_crd_edit(a):
    """One upgrade-crd-* change (CRD_EDITS) in ROOT; then every CRD file is checked."""
    crds = os.path.join(a.root, 'operator', 'deploy', 'crds')
    if a.edit not in CRD_EDITS:
        die('unknown CRD edit ' + a.edit)
    plural, text, want = CRD_EDITS[a.edit]
    path = os.path.join(crds, CRD_PREFIX + plural + '_crd.yaml')
    if a.edit == 'crd-added':
        if os.path.exists(path):
            die(path + ' already exists')
    else:
        with open(path) as f:
            if f.read() != CRDS[plural]:
                die(path + ' is not the good CRD')
    replace_file(path, text.encode())
    got = check_crd(path)
    if got != want:
        die('%s: versions %r, expected %r' % (path, got, want))
    for fn in sorted(os.listdir(crds)):
        check_crd(os.path.join(crds, fn))
    # Outside spec.versions the edited CRD is the good one; inside, a version that keeps its
    # name keeps the good schema apart from the listed spec properties.
    new, old = yaml.safe_load(text), yaml.safe_load(CRDS[plural])
    versions_new, versions_old = new['spec'].pop('versions'), old['spec'].pop('versions')
    if new != old:
        die(path + ': changed outside spec.versions')
    base = versions_old[0]['schema']['openAPIV3Schema']
    for v in versions_new:
        schema = v['schema']['openAPIV3Schema']
        sp = schema['properties']['spec'].pop('properties')
        if schema != {**base, 'properties': {**base['properties'], 'spec': {'type': 'object'}}}:
            die('%s: %s: schema differs outside spec.properties' % (path, v['name']))
        for k, pv in sp.items():
            if k in base['properties']['spec']['properties'] and pv != base['properties']['spec']['properties'][k]:
                die('%s: %s: spec.%s changed' % (path, v['name'], k))


# ---- 4. image defects ------------------------------------------------------------------
def load_manifest(tdir):
    with open(os.path.join(tdir, 'manifest.json'), 'rb') as f:
        return json.load(f)


def layer_hex(tdir, index):
    return load_manifest(tdir)['layers'][index]['digest'].split(':', 1)[1]


def cmd_image_defect(a):
    t = a.tagdir
    if a.defect == 'blob-missing':
        h = layer_hex(t, -1)
        os.unlink(os.path.join(t, h))
        print(h)
    elif a.defect == 'blob-digest':
        h = layer_hex(t, -1)
        p = os.path.join(t, h)
        with open(p, 'rb') as f:
            b = bytearray(f.read())
        b[len(b) // 2] ^= 0x01
        replace_file(p, bytes(b))
        print(h)
    elif a.defect == 'blob-size':
        h = layer_hex(t, -1)
        p = os.path.join(t, 'manifest.json')
        with open(p, 'rb') as f:
            raw = f.read()
        size = os.path.getsize(os.path.join(t, h))
        old = b'"size":%d,"digest":"sha256:%s"' % (size, h.encode())
        if raw.count(old) != 1:
            die('layer descriptor not found in compact form in ' + p)
        replace_file(p, raw.replace(old, b'"size":%d,"digest":"sha256:%s"' % (size + 100, h.encode())))
        print(h)
    elif a.defect == 'blob-name':
        data = b'This file is named like a blob, but its name is not its sha256.\n'
        h = sha256(b'isolution: some other content')
        assert h != sha256(data)
        replace_file(os.path.join(t, h), data)
        print(h)
    elif a.defect == 'version-file':
        replace_file(os.path.join(t, 'version'), b'Directory Transport Version: 2.0\n')
    else:
        die('unknown image defect ' + a.defect)


def image_findings(root):
    """The image.* findings for ROOT/images, by the rules of README.md: a cross-check."""
    out = []
    images = os.path.join(root, 'images')
    if not os.path.isdir(images):
        return out
    for name in sorted(os.listdir(images)):
        for tag in sorted(os.listdir(os.path.join(images, name))):
            rel = 'images/%s/%s' % (name, tag)
            t = os.path.join(images, name, tag)
            with open(os.path.join(t, 'version'), 'rb') as f:
                if not re.fullmatch(rb'Directory Transport Version: 1\.[0-9]+\n', f.read()):
                    out.append(('warning', 'image.version-file', rel + '/version'))
            m = load_manifest(t)
            if m.get('schemaVersion') != 2 or m.get('mediaType') != V2S2:
                out.append(('warning', 'image.not-v2s2', rel + '/manifest.json'))
            referenced = set()
            # (descriptor, file name suffix): a list's per-platform manifests are stored as
            # <hex>.manifest.json, and their configs and layers are needed too.
            descs = [(d, '') for d in [m['config']] + m['layers']] if 'manifests' not in m else []
            for child in m.get('manifests', []):
                h = child['digest'].split(':', 1)[1]
                descs.append((child, '.manifest.json'))
                p = os.path.join(t, h + '.manifest.json')
                if os.path.exists(p):
                    with open(p, 'rb') as f:
                        c = json.loads(f.read())
                    descs += [(d, '') for d in [c['config']] + c['layers']]
            for desc, suffix in descs:
                h = desc['digest'].split(':', 1)[1]
                referenced.add(h)
                p = os.path.join(t, h + suffix)
                if not os.path.exists(p):
                    out.append(('error', 'image.blob-missing', rel + '/' + h + suffix))
                    continue
                with open(p, 'rb') as f:
                    data = f.read()
                if sha256(data) != h:
                    out.append(('error', 'image.blob-digest', rel + '/' + h + suffix))
                elif len(data) != desc['size']:
                    out.append(('error', 'image.blob-size', rel + '/' + h + suffix))
            for fn in os.listdir(t):
                if HEX64.match(fn) and fn not in referenced:
                    with open(os.path.join(t, fn), 'rb') as f:
                        if sha256(f.read()) != fn:
                            out.append(('error', 'image.blob-name', rel + '/' + fn))
    return out


def registry_findings(root):
    """registry-config.* findings: the file against the config regenerated from images/."""
    p = os.path.join(root, 'registry-config.inc.j2')
    if not os.path.exists(p):
        return []
    with open(p) as f:
        text = f.read()
    expected = render_registry(find_images(os.path.join(root, 'images')), '{{ repository }}',
                               '{{ registry_root }}', False)
    out = []
    found = [c for c in CONSTANTS if c + '\n\n' in text]
    for c in found:
        text = text.replace(c + '\n\n', '', 1)
    if found:
        out.append(('warning', 'registry-config.constants', 'registry-config.inc.j2'))
    if text != expected:
        out.append(('error', 'registry-config.extra', 'registry-config.inc.j2'))
    return out


def cmd_crosscheck(a):
    for f in sorted(image_findings(a.root) + registry_findings(a.root)):
        print('\t'.join(f))


def cmd_check_tree(a):
    """Every good tree: blobs match names and sizes, manifests are v2s2, config regenerates."""
    bad = image_findings(a.root) + registry_findings(a.root)
    if bad:
        die('good tree %s has findings: %r' % (a.root, bad))
    with open(os.path.join(a.root, 'manifest.yaml')) as f:
        m = yaml.safe_load(f)
    assert isinstance(m['spec']['version'], str), 'version must be a string'


def cmd_images_tsv(a):
    """name, tag, manifest digest, media type, size, and the blob digests, for one tree."""
    images = os.path.join(a.root, 'images')
    for name in sorted(os.listdir(images)):
        for tag in sorted(os.listdir(os.path.join(images, name))):
            t = os.path.join(images, name, tag)
            with open(os.path.join(t, 'manifest.json'), 'rb') as f:
                raw = f.read()
            m = json.loads(raw)
            blobs = ','.join(d['digest'] for d in [m['config']] + m['layers'])
            print('\t'.join([name, tag, 'sha256:' + sha256(raw), m['mediaType'], str(len(raw)), blobs]))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('layouts'); s.add_argument('out'); s.add_argument('--tag', nargs=2, action='append',
                                                                          metavar=('IMAGE', 'TAG'), default=[])
    s = sub.add_parser('registry'); s.add_argument('images'); s.add_argument('--with-constants', action='store_true')
    s = sub.add_parser('manifest')
    s.add_argument('--name', default='example-solution'); s.add_argument('--no-name', dest='name',
                                                                         action='store_const', const=None)
    s.add_argument('--version-yaml', default='"1.0.2"')
    s.add_argument('--no-version', dest='version_yaml', action='store_const', const=None)
    s.add_argument('--kind', default='Solution')
    s.add_argument('--api-version', default='solutions.metalk8s.scality.com/v1alpha1')
    s.add_argument('--display-name', default='Example Solution')
    s.add_argument('--git-revision', default='1.0.2-0-g5f3a9c1')
    s.add_argument('--op-name', default='example-solution-operator'); s.add_argument('--op-tag', default='1.0.2')
    s.add_argument('--image', action='append', required=True)
    s.add_argument('--break-yaml', action='store_true')
    s = sub.add_parser('operator'); s.add_argument('root')
    s = sub.add_parser('operator-defect'); s.add_argument('root'); s.add_argument('defect')
    s = sub.add_parser('crd-edit'); s.add_argument('root'); s.add_argument('edit')
    s = sub.add_parser('image-defect'); s.add_argument('tagdir'); s.add_argument('defect')
    s = sub.add_parser('crosscheck'); s.add_argument('root')
    s = sub.add_parser('check-tree'); s.add_argument('root')
    s = sub.add_parser('images-tsv'); s.add_argument('root')
    s = sub.add_parser('multiarch-layout'); s.add_argument('out'); s.add_argument('tag')
    a = p.parse_args()
    if a.cmd == 'layouts':
        tags = {}
        for image, tag in a.tag:
            tags.setdefault(image, []).append(tag)
        a.tags = tags
    globals()['cmd_' + a.cmd.replace('-', '_')](a)


main()
PYEOF
helper() { python3 "$WORK/helper.py" "$@"; }

# -----------------------------------------------------------------------------------------
# Building blocks
# -----------------------------------------------------------------------------------------
OP=example-solution-operator
# §2.1 (docs/developer/solutions/archive.rst), plus -quiet.
UTF8_FLAGS=(-R -J -joliet-long -l -gid 0 -uid 0 -iso-level 3 -input-charset utf-8 -output-charset utf-8)
# §2.2 (the example's Makefile), verbatim.
LATIN1_FLAGS=(-rock -joliet -joliet-long -full-iso9660-filenames --iso-level 3 -gid 0 -uid 0
              -input-charset iso8859-1 -output-charset iso8859-1)

# copy_image ROOT NAME TAG [FORMAT]: the example's skopeo step, from our OCI layouts.
copy_image() {
    local root=$1 name=$2 tag=$3 format=${4:-v2s2}
    mkdir -p "$root/images/$name"
    skopeo --insecure-policy copy --format "$format" --dest-compress \
        "oci:$LAYOUTS/$name:$tag" "dir:$root/images/$name/$tag" >>"$LOG/skopeo.log" 2>&1 \
        || { cat "$LOG/skopeo.log" >&2; echo "build.sh: skopeo copy $name:$tag failed" >&2; exit 1; }
}

# gen_manifest ROOT [helper manifest options]: default = the good 1.0.2 manifest.
GOOD_IMAGES=(--image ':1.0.2' --image base-server:1.0.2 --image "$OP:1.0.2")
gen_manifest() { local root=$1; shift; helper manifest "$@" > "$root/manifest.yaml"; }
gen_registry() { helper registry "$1/images" > "$1/registry-config.inc.j2"; }

# build_good ROOT VERSION: the example's pipeline (§10), steps 2-6.
build_good() {
    local root=$1 v=$2
    mkdir -p "$root"
    copy_image "$root" "$OP" "$v"
    copy_image "$root" base-server "$v"
    copy_image "$root" base-server latest
    hardlink -c "$root/images" >>"$LOG/hardlink.log"
    gen_registry "$root"
    helper operator "$root"
    gen_manifest "$root" --version-yaml "\"$v\"" --git-revision "$v-0-g5f3a9c1" --op-tag "$v" \
        --image ":$v" --image "base-server:$v" --image "$OP:$v"
}

# variant NAME: a copy of the good 1.0.2 tree (hard links kept) in $T.
variant() { T=$TREES/$1; cp -a "$TREES/good" "$T"; }

# normalize ROOT: modes and mtimes of the staged tree.
normalize() {
    find "$1" -type d -exec chmod 0755 {} +
    find "$1" -type f -exec chmod 0644 {} +
    find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

# mkiso ROOT ISO-NAME VOLID GENISOIMAGE-FLAGS...: build, then check size and the manifest.
mkiso() {
    local root=$1 iso=$2 volid=$3; shift 3
    normalize "$root"
    genisoimage -quiet -output "$OUT/$iso" -volid "$volid" "$@" "$root" 2>>"$LOG/genisoimage.log" \
        || { cat "$LOG/genisoimage.log" >&2; echo "build.sh: genisoimage $iso failed" >&2; exit 1; }
    local size; size=$(stat -c %s "$OUT/$iso")
    [ "$size" -lt 1000000 ] || { echo "build.sh: $iso is $size bytes (limit 1 MB)" >&2; exit 1; }
    # MetalK8s reads the manifest with exactly this command (§2.4).
    isoinfo -i "$OUT/$iso" -x '/MANIFEST.YAML;1' > "$WORK/x-manifest"
    if [ -e "$root/manifest.yaml" ] && [ "${EXPECT_NO_PRIMARY_MANIFEST:-0}" = 0 ]; then
        cmp -s "$WORK/x-manifest" "$root/manifest.yaml" \
            || { echo "build.sh: $iso: isoinfo -x '/MANIFEST.YAML;1' does not give manifest.yaml" >&2; exit 1; }
    else
        [ ! -s "$WORK/x-manifest" ] \
            || { echo "build.sh: $iso: MANIFEST.YAML;1 unexpectedly present" >&2; exit 1; }
    fi
}

# findings NAME < lines "SEVERITY RULE PATH": the expected findings, tab-separated, sorted.
# Every tree whose manifest parses (they all have $ENTRY) also gets $SHOWN_NAME, once.
findings() {
    awk -v display="$SHOWN_NAME" 'NF { if ($0 == entry_line) seen = 1; $1 = $1; gsub(/ /, "\t"); print }
        BEGIN { entry_line = "'"$ENTRY"'" }
        END { if (seen) { $0 = display; $1 = $1; gsub(/ /, "\t"); print } }' \
        | LC_ALL=C sort > "$OUT/expected/$1.findings"
}
ENTRY='warning manifest.images-entry manifest.yaml'   # the ":1.0.2" entry, in every good-based tree
# The display name is in metadata.annotations (as the docs and the example put it), where
# MetalK8s's code does not read it (metalk8s_solutions.py, _archive_info_from_manifest).
SHOWN_NAME='warning manifest.display-name-not-shown manifest.yaml'

# mkiso_expect NAME [FINDING...]: master the variant's tree $T as NAME.iso (volume id $V, the
# documented flags $F), and expect the validator to find FINDING... and $ENTRY in it.
mkiso_expect() {
    local name=$1; shift
    mkiso "$T" "$name.iso" "$V" "${F[@]}"
    printf '%s\n' "$@" "$ENTRY" | findings "$name"
}

# crosscheck NAME: the image.* and registry-config.* lines of the expected findings must be
# what the helper's independent implementation of those rules finds in the staged tree.
crosscheck() {
    local name=$1 root=$TREES/$1
    helper crosscheck "$root" | LC_ALL=C sort > "$WORK/x-got"
    { grep -E $'\t(image|registry-config)\\.(not-v2s2|version-file|blob-[a-z]+|extra|constants)\t' \
        "$OUT/expected/$name.findings" || true; } > "$WORK/x-want"
    diff -u "$WORK/x-want" "$WORK/x-got" >&2 \
        || { echo "build.sh: $name: image/registry findings differ from the expectation" >&2; exit 1; }
}

# -----------------------------------------------------------------------------------------
# 1. OCI layouts and the good trees
# -----------------------------------------------------------------------------------------
helper layouts "$LAYOUTS" \
    --tag "$OP" 1.0.2 --tag "$OP" 1.0.10 \
    --tag base-server 1.0.2 --tag base-server latest --tag base-server 1.0.10

build_good "$TREES/good" 1.0.2
build_good "$TREES/good-1.0.10" 1.0.10
helper check-tree "$TREES/good"
helper check-tree "$TREES/good-1.0.10"

# hardlink -c must have merged the two base-server tags (and the shared base layer and the
# identical `version` files across images).
for f in "$TREES/good/images/base-server/1.0.2"/*; do
    g=$TREES/good/images/base-server/latest/${f##*/}
    [ "$(stat -c %i "$f")" = "$(stat -c %i "$g")" ] && [ "$(stat -c %h "$f")" -ge 2 ] \
        || { echo "build.sh: ${f##*/} not hard-linked between base-server tags" >&2; exit 1; }
done
[ "$(stat -c %h "$TREES/good/images/base-server/1.0.2/version")" = 3 ] \
    || { echo "build.sh: the three version files are not one inode" >&2; exit 1; }
base_hex=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][0]["digest"][7:])' \
    "$TREES/good/images/$OP/1.0.2/manifest.json")
[ "$(stat -c %h "$TREES/good/images/$OP/1.0.2/$base_hex")" = 3 ] \
    || { echo "build.sh: the shared base layer is not hard-linked across images" >&2; exit 1; }
helper images-tsv "$TREES/good" > "$OUT/expected/example-solution-1.0.2.images.tsv"

mkiso "$TREES/good" example-solution-1.0.2.iso 'Example Solution 1.0.2' "${UTF8_FLAGS[@]}"
mkiso "$TREES/good" example-solution-1.0.2-latin1.iso 'Example Solution 1.0.2' "${LATIN1_FLAGS[@]}"
mkiso "$TREES/good-1.0.10" example-solution-1.0.10.iso 'Example Solution 1.0.10' "${UTF8_FLAGS[@]}"
findings example-solution-1.0.2 <<<"$ENTRY"
findings example-solution-1.0.2-latin1 <<<"$ENTRY"
findings example-solution-1.0.10 <<<"$ENTRY"
cp "$TREES/good/registry-config.inc.j2" "$OUT/expected/example-solution-1.0.2.registry-config.inc.j2"
cp "$TREES/good/manifest.yaml" "$OUT/expected/example-solution-1.0.2.manifest.yaml"

# -----------------------------------------------------------------------------------------
# 2. Broken variants: a copy of the good tree with one defect each. The broken ISOs use the
#    §2.1 flags plus -no-pad (genisoimage pads 300 KB by default; see README.md).
# -----------------------------------------------------------------------------------------
F=(-no-pad "${UTF8_FLAGS[@]}")
V='Example Solution 1.0.2'
drop() {   # drop FLAG...: F without the given flags
    local out=() f d keep
    for f in "${F[@]}"; do
        keep=1; for d in "$@"; do [ "$f" = "$d" ] && keep=0; done
        [ $keep = 1 ] && out+=("$f")
    done
    printf '%s\n' "${out[@]}"
}

# --- manifest ---
variant broken-manifest-missing-primary    # ISO level 1 without -l: MANIFEST.YAM;1
mapfile -t flags < <(drop -l)
flags=("${flags[@]/#3/1}")                  # -iso-level 3 -> 1
[[ " ${flags[*]} " == *" -iso-level 1 "* ]] || { echo "build.sh: iso-level rewrite failed" >&2; exit 1; }
EXPECT_NO_PRIMARY_MANIFEST=1 mkiso "$T" broken-manifest-missing-primary.iso "$V" "${flags[@]}"
isoinfo -i "$OUT/broken-manifest-missing-primary.iso" -l | grep -q 'MANIFEST\.YAM;1' \
    || { echo "build.sh: MANIFEST.YAM;1 expected in the primary root" >&2; exit 1; }
findings broken-manifest-missing-primary <<EOF
error manifest.missing-primary manifest.yaml
$ENTRY
EOF

variant broken-manifest-missing-rr         # manifest.yaml renamed to manifest.yml
mv "$T/manifest.yaml" "$T/manifest.yml"
mkiso "$T" broken-manifest-missing-rr.iso "$V" "${F[@]}"
findings broken-manifest-missing-rr <<EOF
error manifest.missing-primary manifest.yaml
error manifest.missing-rr manifest.yaml
EOF

variant broken-manifest-yaml-invalid
gen_manifest "$T" "${GOOD_IMAGES[@]}" --break-yaml
mkiso "$T" broken-manifest-yaml-invalid.iso "$V" "${F[@]}"
findings broken-manifest-yaml-invalid <<<'error manifest.yaml-invalid manifest.yaml'

variant broken-manifest-kind
gen_manifest "$T" "${GOOD_IMAGES[@]}" --kind Solutions
mkiso_expect broken-manifest-kind 'error manifest.kind manifest.yaml'

variant broken-manifest-api-version
gen_manifest "$T" "${GOOD_IMAGES[@]}" --api-version metalk8s.scality.com/v1alpha1
mkiso_expect broken-manifest-api-version 'error manifest.api-version manifest.yaml'

variant broken-manifest-name-missing
gen_manifest "$T" "${GOOD_IMAGES[@]}" --no-name
mkiso_expect broken-manifest-name-missing 'error manifest.name-missing manifest.yaml'

variant broken-manifest-name-invalid
gen_manifest "$T" "${GOOD_IMAGES[@]}" --name Example_Solution
# The id checks (manifest.id-*) need a valid name: an invalid name is already an error, and
# the validator does not report the id derived from it a second time.
mkiso_expect broken-manifest-name-invalid 'error manifest.name-invalid manifest.yaml'

variant broken-manifest-version-missing
gen_manifest "$T" "${GOOD_IMAGES[@]}" --no-version
mkiso_expect broken-manifest-version-missing 'error manifest.version-missing manifest.yaml'

variant broken-manifest-version-not-string   # version: 1.0 (a float); the volume id follows
gen_manifest "$T" "${GOOD_IMAGES[@]}" --version-yaml 1.0
python3 -c 'import yaml,sys; v=yaml.safe_load(open(sys.argv[1]))["spec"]["version"]; assert isinstance(v, float), v' \
    "$T/manifest.yaml"
mkiso "$T" broken-manifest-version-not-string.iso 'Example Solution 1.0' "${F[@]}"
findings broken-manifest-version-not-string <<EOF
error manifest.version-not-string manifest.yaml
$ENTRY
EOF

variant broken-manifest-name-metalk8s-prefix   # name metalk8s-example, operator image renamed
mv "$T/images/$OP" "$T/images/metalk8s-example-operator"
gen_registry "$T"
gen_manifest "$T" --name metalk8s-example --op-name metalk8s-example-operator \
    --image ':1.0.2' --image base-server:1.0.2 --image metalk8s-example-operator:1.0.2
mkiso_expect broken-manifest-name-metalk8s-prefix 'warning manifest.name-metalk8s-prefix manifest.yaml'

variant broken-manifest-id-not-dns-safe     # version 1.0.2_RC+1; images keep tag 1.0.2
gen_manifest "$T" "${GOOD_IMAGES[@]}" --version-yaml '"1.0.2_RC+1"'
mkiso "$T" broken-manifest-id-not-dns-safe.iso 'Example Solution 1.0.2_RC+1' "${F[@]}"
findings broken-manifest-id-not-dns-safe <<EOF
warning manifest.id-not-dns-safe manifest.yaml
$ENTRY
EOF

# --- layout ---
variant broken-layout-images-missing        # no images/; registry config regenerated (empty)
rm -rf "$T/images"
gen_registry "$T"
[ ! -s "$T/registry-config.inc.j2" ] || { echo "build.sh: expected an empty registry config" >&2; exit 1; }
mkiso "$T" broken-layout-images-missing.iso "$V" "${F[@]}"
findings broken-layout-images-missing <<EOF
error layout.images-missing images
error operator.image-missing images/$OP/1.0.2
$ENTRY
$ENTRY
$ENTRY
EOF

variant broken-layout-registry-config-missing
rm "$T/registry-config.inc.j2"
mkiso_expect broken-layout-registry-config-missing 'error layout.registry-config-missing registry-config.inc.j2'

# --- operator ---
variant broken-operator-role-kind
helper operator-defect "$T" role-binding
mkiso_expect broken-operator-role-kind 'error operator.role-kind operator/deploy/role.yaml'

variant broken-operator-image-missing       # spec.operator.image = example-solution-operator:9.9.9
gen_manifest "$T" "${GOOD_IMAGES[@]}" --op-tag 9.9.9
mkiso_expect broken-operator-image-missing "error operator.image-missing images/$OP/9.9.9"

variant broken-operator-crd-name
helper operator-defect "$T" crd-name
mkiso_expect broken-operator-crd-name 'warning operator.crd-name operator/deploy/crds/foo.yaml'

variant broken-operator-crd-multi-doc
helper operator-defect "$T" crd-multi-doc
mkiso_expect broken-operator-crd-multi-doc 'warning operator.crd-multi-doc operator/deploy/crds/example-solution.metalk8s.scality.com_clockservers_crd.yaml'

variant broken-operator-crd-kind
helper operator-defect "$T" crd-kind
mkiso_expect broken-operator-crd-kind 'warning operator.crd-kind operator/deploy/crds/example-solution.metalk8s.scality.com_settings_crd.yaml'

variant broken-operator-cluster-role
helper operator-defect "$T" cluster-role
mkiso_expect broken-operator-cluster-role 'warning operator.cluster-role operator/deploy/role.yaml'

# --- images (all defects in the operator image: its blobs are not hard-linked to base-server's,
#     except the shared base layer, which is never the one touched) ---
OPDIR=images/$OP/1.0.2
variant broken-image-blob-missing
h=$(helper image-defect "$T/$OPDIR" blob-missing)
[ "$h" != "$base_hex" ]
mkiso_expect broken-image-blob-missing "error image.blob-missing $OPDIR/$h"

variant broken-image-blob-digest
h=$(helper image-defect "$T/$OPDIR" blob-digest)
[ "$h" != "$base_hex" ]
mkiso_expect broken-image-blob-digest "error image.blob-digest $OPDIR/$h"

variant broken-image-blob-size              # manifest.json layer size +100; registry regenerated
h=$(helper image-defect "$T/$OPDIR" blob-size)
gen_registry "$T"
mkiso_expect broken-image-blob-size "error image.blob-size $OPDIR/$h"

variant broken-image-blob-name
h=$(helper image-defect "$T/$OPDIR" blob-name)
mkiso_expect broken-image-blob-name "error image.blob-name $OPDIR/$h"

variant broken-image-not-v2s2               # base-server:latest copied with --format oci
rm -rf "$T/images/base-server/latest"
copy_image "$T" base-server latest oci
hardlink -c "$T/images" >>"$LOG/hardlink.log"
gen_registry "$T"
grep -q '"mediaType":"application/vnd.oci.image.manifest.v1+json"' "$T/images/base-server/latest/manifest.json" \
    || { echo "build.sh: base-server:latest is not an OCI manifest" >&2; exit 1; }
mkiso_expect broken-image-not-v2s2 'warning image.not-v2s2 images/base-server/latest/manifest.json'

variant broken-image-version-file
helper image-defect "$T/$OPDIR" version-file
mkiso_expect broken-image-version-file "warning image.version-file $OPDIR/version"

# --- registry config ---
variant broken-registry-config-extra
printf '\nlocation /secret {\n    alias /etc/;\n}\n' >> "$T/registry-config.inc.j2"
mkiso_expect broken-registry-config-extra 'error registry-config.extra registry-config.inc.j2'

variant broken-registry-config-constants    # generated without --omit-constants
helper registry "$T/images" --with-constants > "$T/registry-config.inc.j2"
mkiso_expect broken-registry-config-constants 'warning registry-config.constants registry-config.inc.j2'

# --- ISO container ---
variant broken-iso-no-joliet
mapfile -t flags < <(drop -J -joliet-long)
mkiso "$T" broken-iso-no-joliet.iso "$V" "${flags[@]}"
isoinfo -i "$OUT/broken-iso-no-joliet.iso" -d | grep -q 'Joliet with' \
    && { echo "build.sh: broken-iso-no-joliet.iso has Joliet" >&2; exit 1; }
findings broken-iso-no-joliet <<EOF
warning iso.no-joliet -
$ENTRY
EOF

variant broken-iso-no-rock-ridge
# Not just "drop -R": genisoimage's -uid/-gid "automatically enable Rock Ridge" (man page), so
# the documented flags give Rock Ridge even without -R. Drop all three.
flags=(-no-pad -J -joliet-long -l -iso-level 3 -input-charset utf-8 -output-charset utf-8)
mkiso "$T" broken-iso-no-rock-ridge.iso "$V" "${flags[@]}"
isoinfo -i "$OUT/broken-iso-no-rock-ridge.iso" -d | grep -q 'Rock Ridge signatures' \
    && { echo "build.sh: broken-iso-no-rock-ridge.iso has Rock Ridge" >&2; exit 1; }
# The Joliet tree must carry every name intact (64-hex blob names, the CRD file names).
isoinfo -i "$OUT/broken-iso-no-rock-ridge.iso" -J -f | sed 's|^/||' | LC_ALL=C sort > "$WORK/x-joliet"
(cd "$T" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort) > "$WORK/x-tree"
diff -u "$WORK/x-tree" "$WORK/x-joliet" >&2 \
    || { echo "build.sh: Joliet names differ from the tree in broken-iso-no-rock-ridge.iso" >&2; exit 1; }
findings broken-iso-no-rock-ridge <<EOF
warning iso.no-rock-ridge -
$ENTRY
EOF

variant broken-iso-volume-id
mkiso "$T" broken-iso-volume-id.iso 'Example Solution' "${F[@]}"
findings broken-iso-volume-id <<EOF
warning iso.volume-id -
$ENTRY
EOF

# -----------------------------------------------------------------------------------------
# 2b. upgrade-plan fixtures: good trees, each a copy of the good 1.0.2 tree (same manifest,
#     images and version) with one change to the CRDs, for `isolution upgrade-plan OLD NEW`.
#     Same flags as the broken variants. They validate like the good tree: only $ENTRY.
# -----------------------------------------------------------------------------------------
CRDS_DIR=operator/deploy/crds
CLOCK_CRD=$CRDS_DIR/example-solution.metalk8s.scality.com_clockservers_crd.yaml

variant upgrade-crd-version-added       # clockservers: + v1beta1 (served, not stored, + spec.format)
helper crd-edit "$T" version-added
mkiso_expect upgrade-crd-version-added

variant upgrade-crd-storage-changed     # clockservers: v1alpha1 + v1beta1, v1beta1 stored
helper crd-edit "$T" storage-changed
mkiso_expect upgrade-crd-storage-changed

variant upgrade-crd-field-removed       # clockservers v1alpha1 without spec.timezone
helper crd-edit "$T" field-removed
mkiso_expect upgrade-crd-field-removed

variant upgrade-crd-added               # + the alarmservers CRD file
helper crd-edit "$T" crd-added
mkiso_expect upgrade-crd-added

# Each upgrade tree differs from the good one in exactly one CRD file, is otherwise a good
# tree, and its ISO's Rock Ridge tree is the staged tree, with the CRD files' bytes.
for t in "$TREES"/upgrade-*; do
    n=${t##*/}
    case $n in
        upgrade-crd-added) want="Only in $n/$CRDS_DIR: example-solution.metalk8s.scality.com_alarmservers_crd.yaml" ;;
        *) want="Files good/$CLOCK_CRD and $n/$CLOCK_CRD differ" ;;
    esac
    got=$(cd "$TREES" && diff -rq good "$n" || true)
    [ "$got" = "$want" ] || { printf 'build.sh: %s differs from the good tree by:\n%s\n' "$n" "$got" >&2; exit 1; }
    helper check-tree "$t"
    isoinfo -i "$OUT/$n.iso" -R -f | sed 's|^/||' | LC_ALL=C sort > "$WORK/x-rr"
    (cd "$t" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort) > "$WORK/x-tree"
    diff -u "$WORK/x-tree" "$WORK/x-rr" >&2 \
        || { echo "build.sh: Rock Ridge names differ from the tree in $n.iso" >&2; exit 1; }
    for f in "$t/$CRDS_DIR"/*; do
        isoinfo -i "$OUT/$n.iso" -R -x "/$CRDS_DIR/${f##*/}" | cmp -s - "$f" \
            || { echo "build.sh: $n.iso: /$CRDS_DIR/${f##*/} is not the staged file" >&2; exit 1; }
    done
done

# -----------------------------------------------------------------------------------------
# 2c. Multi-platform images: the good tree plus base-server:1.0.2-multiarch, copied with
#     `skopeo copy --all --format v2s2` (a Docker manifest list of two v2s2 manifests, each
#     stored beside it as <hex>.manifest.json), and base-server:1.0.2-oci, copied with --all
#     and no --format (an OCI index of two OCI manifests). MetalK8s's registry serves neither
#     (image.not-v2s2); isolution validates, exports, pushes and serves both. The broken copy
#     lacks the arm64 config blob of the list.
# -----------------------------------------------------------------------------------------
helper multiarch-layout "$LAYOUTS/base-server-multi" 1.0.2
copy_list() {   # copy_list ROOT TAG [skopeo flags]
    local root=$1 tag=$2; shift 2
    skopeo --insecure-policy copy --all "$@" --dest-compress \
        "oci:$LAYOUTS/base-server-multi:1.0.2" "dir:$root/images/base-server/$tag" >>"$LOG/skopeo.log" 2>&1 \
        || { cat "$LOG/skopeo.log" >&2; echo "build.sh: skopeo copy --all base-server:$tag failed" >&2; exit 1; }
}
json_get() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v=v[int(k) if k.isdigit() else k]
print(v)' "$@"; }
variant example-solution-1.0.2-multiarch
MA=$T
copy_list "$MA" 1.0.2-multiarch --format v2s2
copy_list "$MA" 1.0.2-oci
hardlink -c "$MA/images" >>"$LOG/hardlink.log"
L=$MA/images/base-server/1.0.2-multiarch
[ "$(json_get "$L/manifest.json" mediaType)" = application/vnd.docker.distribution.manifest.list.v2+json ] \
    || { echo "build.sh: 1.0.2-multiarch is not a Docker manifest list" >&2; exit 1; }
[ "$(json_get "$MA/images/base-server/1.0.2-oci/manifest.json" mediaType)" = application/vnd.oci.image.index.v1+json ] \
    || { echo "build.sh: 1.0.2-oci is not an OCI index" >&2; exit 1; }
amd64_hex=$(json_get "$L/manifest.json" manifests 0 digest); amd64_hex=${amd64_hex#sha256:}
arm64_hex=$(json_get "$L/manifest.json" manifests 1 digest); arm64_hex=${arm64_hex#sha256:}
[ "$(json_get "$L/manifest.json" manifests 1 platform variant)" = v8 ] \
    || { echo "build.sh: the list's second platform is not arm64/v8" >&2; exit 1; }
# The amd64 manifest is base-server:1.0.2's, byte for byte, and hardlink merged the two.
[ "$(stat -c %i "$L/$amd64_hex.manifest.json")" = "$(stat -c %i "$MA/images/base-server/1.0.2/manifest.json")" ] \
    || { echo "build.sh: the list's amd64 manifest is not base-server:1.0.2's" >&2; exit 1; }
arm64_config=$(json_get "$L/$arm64_hex.manifest.json" config digest); arm64_config=${arm64_config#sha256:}
mkiso "$MA" example-solution-1.0.2-multiarch.iso "$V" "${F[@]}"
findings example-solution-1.0.2-multiarch <<EOF
$ENTRY
warning image.not-v2s2 images/base-server/1.0.2-multiarch/manifest.json
warning image.not-v2s2 images/base-server/1.0.2-oci/manifest.json
EOF
crosscheck example-solution-1.0.2-multiarch

T=$TREES/broken-image-list-blob-missing
cp -a "$MA" "$T"
rm "$T/images/base-server/1.0.2-multiarch/$arm64_config"
mkiso "$T" broken-image-list-blob-missing.iso "$V" "${F[@]}"
findings broken-image-list-blob-missing <<EOF
$ENTRY
warning image.not-v2s2 images/base-server/1.0.2-multiarch/manifest.json
warning image.not-v2s2 images/base-server/1.0.2-oci/manifest.json
error image.blob-missing images/base-server/1.0.2-multiarch/$arm64_config
EOF

# The good trees' Rock Ridge names must be the staged names too.
isoinfo -i "$OUT/example-solution-1.0.2.iso" -R -f | sed 's|^/||' | LC_ALL=C sort > "$WORK/x-rr"
(cd "$TREES/good" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort) > "$WORK/x-tree"
diff -u "$WORK/x-tree" "$WORK/x-rr" >&2 \
    || { echo "build.sh: Rock Ridge names differ from the tree in example-solution-1.0.2.iso" >&2; exit 1; }

# The image.* and registry-config.* expectations of every broken ISO, against the helper's own
# implementation of those rules run on the staged tree.
for t in "$TREES"/broken-*; do crosscheck "${t##*/}"; done

# Make sure every ISO has its expected file.
for iso in "$OUT"/*.iso; do
    n=${iso##*/}; n=${n%.iso}
    [ -s "$OUT/expected/$n.findings" ] || { echo "build.sh: no expected/$n.findings" >&2; exit 1; }
done

# -----------------------------------------------------------------------------------------
# 3. solutions.yaml set (config/); @FIXTURES@ = absolute path of tests/solutions
# -----------------------------------------------------------------------------------------
C=$OUT/config
HEAD='apiVersion: solutions.metalk8s.scality.com/v1alpha1
kind: SolutionsConfiguration'
cfg() { cat > "$C/$1.yaml"; }
expect() { awk 'NF { $1 = $1; gsub(/ /, "\t"); print }' | LC_ALL=C sort > "$C/$1.expected"; }

cfg ok <<EOF
$HEAD
archives:
  - "@FIXTURES@/example-solution-1.0.2.iso"
active:
  example-solution: latest
EOF
expect ok <<<'info config.latest active.example-solution 1.0.2'

cfg duplicate <<EOF
$HEAD
archives:
  - "@FIXTURES@/example-solution-1.0.2.iso"
  - "@FIXTURES@/example-solution-1.0.2-latin1.iso"
active: {}
EOF
expect duplicate <<<'error config.duplicate-archive archives[1]'

cfg bad-kind <<EOF
apiVersion: solutions.metalk8s.scality.com/v1alpha1
kind: SolutionConfiguration
archives:
  - "@FIXTURES@/example-solution-1.0.2.iso"
active: {}
EOF
expect bad-kind <<<'error config.kind kind'

cfg bad-api-version <<EOF
apiVersion: metalk8s.scality.com/v1alpha1
kind: SolutionsConfiguration
archives:
  - "@FIXTURES@/example-solution-1.0.2.iso"
active: {}
EOF
expect bad-api-version <<<'error config.api-version apiVersion'

cfg relative-path <<EOF
$HEAD
archives:
  - example-solution-1.0.2.iso
active: {}
EOF
expect relative-path <<<'error config.archive-path-relative archives[0]'

cfg missing-archive <<EOF
$HEAD
archives:
  - "@FIXTURES@/example-solution-0.0.0.iso"
active: {}
EOF
expect missing-archive <<<'error config.archive-missing archives[0]'

cfg not-a-solution <<EOF
$HEAD
archives:
  - "@FIXTURES@/../fixtures/plain-l3.iso"
active: {}
EOF
# The path goes through `..`: not what solutions.sh (readlink -f) writes.
expect not-a-solution <<EOF
error config.archive-invalid archives[0]
warning config.archive-path-not-canonical archives[0]
EOF
[ -f "$HERE/../fixtures/plain-l3.iso" ] || { echo "build.sh: ../fixtures/plain-l3.iso missing" >&2; exit 1; }

cfg inactive-unknown <<EOF
$HEAD
archives:
  - "@FIXTURES@/example-solution-1.0.2.iso"
active:
  example-solution: 9.9.9
  other-solution: latest
EOF
expect inactive-unknown <<EOF
error config.active-unknown active.other-solution
error config.active-version-unknown active.example-solution
EOF

cfg latest <<EOF
$HEAD
archives:
  - "@FIXTURES@/example-solution-1.0.2.iso"
  - "@FIXTURES@/example-solution-1.0.10.iso"
active:
  example-solution: latest
EOF
expect latest <<<'info config.latest active.example-solution 1.0.10'

# read_config keeps a null `active` (setdefault fills in only a missing key), and
# deploy-components.sls then fails to render (metalk8s_solutions.py, deploy-components.sls).
cfg active-null <<EOF
$HEAD
archives:
  - "@FIXTURES@/example-solution-1.0.2.iso"
active:
EOF
expect active-null <<<'error config.active-invalid active'

# PyYAML reads 1.0 as a float, which never equals an archive's version string.
cfg active-version-number <<EOF
$HEAD
archives:
  - "@FIXTURES@/example-solution-1.0.2.iso"
active:
  example-solution: 1.0
EOF
expect active-version-number <<<'error config.active-version-not-string active.example-solution'

# deploy-components.sls: `not desired_version` means "not active".
cfg active-empty <<EOF
$HEAD
archives:
  - "@FIXTURES@/example-solution-1.0.2.iso"
active:
  example-solution: ''
EOF
expect active-empty <<<'warning config.active-empty active.example-solution'

# configure_archive (solutions.sh import) fails on a null `archives`.
cfg archives-null <<EOF
$HEAD
archives:
active: {}
EOF
expect archives-null <<<'warning config.archives-null archives'

for y in "$C"/*.yaml; do python3 -c 'import yaml,sys; yaml.safe_load(open(sys.argv[1]))' "$y"; done

# -----------------------------------------------------------------------------------------
# 4. Size budget, then install
# -----------------------------------------------------------------------------------------
total=$(du -sb "$OUT" | cut -f1)
[ "$total" -lt 8000000 ] || { echo "build.sh: outputs are $total bytes (budget 8 MB)" >&2; exit 1; }

rm -f "$HERE"/*.iso
rm -rf "$HERE/expected" "$HERE/config"
cp -r "$OUT"/. "$HERE"/
echo "build.sh: $(ls "$OUT"/*.iso | wc -l) ISOs, $total bytes, in $((SECONDS - start)) s"
