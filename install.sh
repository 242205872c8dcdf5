#!/usr/bin/env bash
#
# install.sh — set up QuranBot on a Debian or Ubuntu machine.
#
# Modes:
#   --dev   Developer setup, run from a clone of the repository: installs the Debian
#           packages QuranBot needs (ffmpeg, libopus0, python3-venv), creates ./.venv
#           and installs the project into it in editable mode with its dev extras.
#   (none)  The system install (a service user, /opt, systemd units, ...). It is
#           planned but not implemented in this version: the script says so and
#           exits 2 without touching anything.
#
# The script is safe to re-run: packages already present are not reinstalled (apt is
# not even called, so a re-run is fast and works offline) and an existing, working
# .venv is reused.
#
# Environment:
#   PYTHON               Python interpreter used to create the venv (default: python3).
#   QURANBOT_OS_RELEASE  os-release file used to detect the distribution
#                        (default: /etc/os-release; tests point it elsewhere).
#
# Structure: main() parses the flags into variables, then dispatches to one install_*
# function per mode. Later modes (system install, --unattended, --uninstall, --purge)
# slot in as new flags in parse_args() and new functions called from main().

set -Eeuo pipefail

readonly MIN_PYTHON_MAJOR=3
readonly MIN_PYTHON_MINOR=11
readonly DEBIAN_PACKAGES=(ffmpeg libopus0 python3-venv)

# The directory holding this script is the project root, whatever the caller's cwd.
PROJECT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
readonly PROJECT_DIR
readonly VENV_DIR="${PROJECT_DIR}/.venv"
readonly OS_RELEASE="${QURANBOT_OS_RELEASE:-/etc/os-release}"

# Set by parse_args().
MODE="system"

# Set to "yes" by check_python() once the interpreter has passed the version check.
PYTHON_CHECKED="no"

# The step being run, named in the error message if a command fails unexpectedly.
CURRENT_STEP="starting"

# --------------------------------------------------------------------------- output

step() {
    CURRENT_STEP="$*"
    printf '==> %s\n' "$*"
}

info() {
    printf '    %s\n' "$*"
}

warn() {
    printf 'warning: %s\n' "$*" >&2
}

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

on_error() {
    local status=$1 command=$2
    printf 'error: step failed: %s\n' "${CURRENT_STEP}" >&2
    printf 'error: command exited with status %s: %s\n' "${status}" "${command}" >&2
}
trap 'on_error "$?" "${BASH_COMMAND}"' ERR

usage() {
    cat <<EOF
Usage: install.sh [OPTION]

Set up QuranBot on Debian or Ubuntu.

Options:
  --dev        Developer setup from this repository: install the Debian packages
               (${DEBIAN_PACKAGES[*]}), create .venv and pip install -e ".[dev]".
  -h, --help   Show this help and exit.

Without an option, install.sh performs the system install. That mode is not
implemented yet in this version; use --dev.

Environment:
  PYTHON               Python interpreter to build the venv with (default: python3;
                       must be ${MIN_PYTHON_MAJOR}.${MIN_PYTHON_MINOR} or newer).
  QURANBOT_OS_RELEASE  os-release file used to detect the distribution
                       (default: /etc/os-release).
EOF
}

usage_error() {
    printf 'error: %s\n\n' "$*" >&2
    usage >&2
    exit 2
}

# --------------------------------------------------------------------------- checks

# Refuse anything that is not Debian, Ubuntu or a derivative (ID or ID_LIKE).
check_os() {
    step "Checking the operating system (${OS_RELEASE})"
    [[ -r "${OS_RELEASE}" ]] \
        || die "cannot read ${OS_RELEASE}: QuranBot's installer supports Debian and Ubuntu only"

    local id="" id_like="" pretty="" key value
    # Parsed rather than sourced: the file is data, not a script.
    while IFS='=' read -r key value; do
        value="${value%\"}"; value="${value#\"}"
        value="${value%\'}"; value="${value#\'}"
        case "${key}" in
            ID) id="${value}" ;;
            ID_LIKE) id_like="${value}" ;;
            PRETTY_NAME) pretty="${value}" ;;
        esac
    done < "${OS_RELEASE}"

    case " ${id} ${id_like} " in
        *" debian "* | *" ubuntu "*)
            info "found ${pretty:-${id}}"
            ;;
        *)
            die "unsupported operating system: ${pretty:-${id:-unknown}} (ID=${id:-unset}, ID_LIKE=${id_like:-unset}); QuranBot's installer supports Debian and Ubuntu (or derivatives) only"
            ;;
    esac
}

# Print the "major minor" version of the interpreter $1, or fail if it cannot be read.
python_version() {
    local output
    output="$("$1" --version 2>&1)" || return 1
    [[ "${output}" =~ ^Python[[:space:]]+([0-9]+)\.([0-9]+) ]] || return 1
    printf '%s %s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
}

# True if the interpreter $1 is at least MIN_PYTHON_MAJOR.MIN_PYTHON_MINOR.
python_is_recent_enough() {
    local version major minor
    version="$(python_version "$1")" || return 1
    read -r major minor <<<"${version}"
    (( major > MIN_PYTHON_MAJOR || (major == MIN_PYTHON_MAJOR && minor >= MIN_PYTHON_MINOR) ))
}

# Check ${PYTHON:-python3}. If it is missing and PYTHON was not set, python3 may still
# arrive with python3-venv: pass "allow-missing" to accept that, and check again later.
check_python() {
    local allow_missing="${1:-}"
    local python="${PYTHON:-python3}"
    local required="${MIN_PYTHON_MAJOR}.${MIN_PYTHON_MINOR}"
    step "Checking Python (${python}, ${required} or newer required)"

    if ! command -v -- "${python}" >/dev/null 2>&1; then
        if [[ "${allow_missing}" == "allow-missing" && -z "${PYTHON:-}" ]]; then
            info "python3 not found yet; it comes with python3-venv, checked again after the packages"
            return 0
        fi
        die "Python interpreter not found: ${python} (QuranBot needs Python ${required} or newer; set PYTHON=/path/to/python3.11 to choose one)"
    fi

    local found
    found="$("${python}" --version 2>&1 | head -n 1)" || true
    if ! python_is_recent_enough "${python}"; then
        die "QuranBot needs Python ${required} or newer, but ${python} is ${found:-of an unknown version} (set PYTHON=/path/to/python3.11 to use another interpreter)"
    fi
    info "found ${found} ($(command -v -- "${python}"))"
    PYTHON_CHECKED="yes"
}

check_project_dir() {
    [[ -f "${PROJECT_DIR}/pyproject.toml" && -d "${PROJECT_DIR}/quranbot" ]] \
        || die "--dev must be run from the QuranBot repository, but ${PROJECT_DIR} (where install.sh lives) has no pyproject.toml and quranbot/ package"
}

# --------------------------------------------------------------------------- packages

package_installed() {
    local status
    status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" || return 1
    [[ "${status}" == "install ok installed" ]]
}

# Run a command as root: directly if we are root, through sudo otherwise.
as_root() {
    if (( EUID == 0 )); then
        "$@"
    else
        sudo "$@"
    fi
}

install_debian_packages() {
    step "Checking Debian packages: ${DEBIAN_PACKAGES[*]}"
    local missing=() package
    for package in "${DEBIAN_PACKAGES[@]}"; do
        package_installed "${package}" || missing+=("${package}")
    done

    if (( ${#missing[@]} == 0 )); then
        info "all installed; skipping apt"
        return 0
    fi

    if (( EUID != 0 )); then
        command -v sudo >/dev/null 2>&1 \
            || die "missing Debian packages: ${missing[*]}. Run as root or install them first: apt-get install ${missing[*]}"
        info "not running as root; using sudo for apt-get"
    fi

    step "Installing Debian packages: ${missing[*]}"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}"

    for package in "${missing[@]}"; do
        package_installed "${package}" || die "Debian package ${package} is still not installed after apt-get install"
    done
}

# --------------------------------------------------------------------------- venv

# A venv is usable if its python runs and is recent enough.
venv_is_usable() {
    [[ -x "${VENV_DIR}/bin/python" ]] && python_is_recent_enough "${VENV_DIR}/bin/python"
}

create_venv() {
    local python="${PYTHON:-python3}"
    if venv_is_usable; then
        step "Reusing the virtual environment ${VENV_DIR}"
        return 0
    fi

    if [[ -e "${VENV_DIR}" ]]; then
        step "Recreating the broken virtual environment ${VENV_DIR}"
        "${python}" -m venv --clear "${VENV_DIR}"
    else
        step "Creating the virtual environment ${VENV_DIR}"
        "${python}" -m venv "${VENV_DIR}"
    fi
    [[ -x "${VENV_DIR}/bin/python" ]] || die "${python} -m venv did not create ${VENV_DIR}/bin/python"
}

install_python_packages() {
    local venv_python="${VENV_DIR}/bin/python"

    step "Upgrading pip in the virtual environment"
    # Not fatal: an older pip still installs the project (and this keeps offline re-runs going).
    "${venv_python}" -m pip install -q --disable-pip-version-check --upgrade pip \
        || warn "could not upgrade pip; continuing with $("${venv_python}" -m pip --version 2>&1 || true)"

    step "Installing QuranBot in editable mode with dev extras: pip install -e \".[dev]\""
    "${venv_python}" -m pip install -q --disable-pip-version-check -e ".[dev]"

    [[ -x "${VENV_DIR}/bin/quranbot" ]] || die "pip finished but ${VENV_DIR}/bin/quranbot is missing"
}

# --------------------------------------------------------------------------- modes

install_dev() {
    check_project_dir
    cd -- "${PROJECT_DIR}"   # pip install -e "." below is relative to the project root
    # The cheap checks run before anything is installed, so a wrong system fails fast.
    check_os
    check_python allow-missing
    install_debian_packages
    [[ "${PYTHON_CHECKED}" == "yes" ]] || check_python
    create_venv
    install_python_packages

    CURRENT_STEP="done"
    cat <<EOF

==> QuranBot developer setup complete in ${PROJECT_DIR}

Next:
    cd ${PROJECT_DIR}
    .venv/bin/quranbot demo          # try the bot against the local sandbox
    .venv/bin/python -m pytest       # run the test suite
EOF
}

install_system() {
    {
        printf 'error: the system install mode is not implemented yet in this version of install.sh.\n'
        printf 'For a developer setup from this repository, run: %s --dev\n' "$0"
        printf 'See %s --help for the available options.\n' "$0"
    } >&2
    exit 2
}

# --------------------------------------------------------------------------- main

parse_args() {
    while (( $# > 0 )); do
        case "$1" in
            --dev) MODE="dev" ;;
            -h | --help) usage; exit 0 ;;
            -*) usage_error "unknown option: $1" ;;
            *) usage_error "unexpected argument: $1" ;;
        esac
        shift
    done
}

main() {
    parse_args "$@"
    case "${MODE}" in
        dev) install_dev ;;
        system) install_system ;;
    esac
}

main "$@"
