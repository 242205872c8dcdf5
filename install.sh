#!/usr/bin/env bash
#
# install.sh — set up QuranBot on a Debian or Ubuntu machine.
#
# Modes:
#   (none)       The system install, run from a clone of the repository: installs the Debian
#                packages (ffmpeg, libopus0, python3-venv, ca-certificates), creates the system user
#                and group `quranbot`, a venv in /opt/quranbot with the project installed into it
#                (not editable: a copy of this checkout), /usr/local/bin/quranbot (a symlink),
#                /etc/quranbot (0750 root:quranbot) and /var/lib/quranbot (0700 quranbot:quranbot).
#                Re-running it repairs and upgrades in place; config, state and audio are kept, and
#                an installed service is re-rendered and restarted on the new code.
#   --dev        Developer setup: the Debian packages, ./.venv with the project installed in
#                editable mode with its dev extras. Never touches system paths.
#   --uninstall  Stops and removes the service, /opt/quranbot and /usr/local/bin/quranbot; keeps
#                /etc/quranbot and /var/lib/quranbot (and the user). With --purge also removes those
#                and the user, after a final backup into /root/quranbot-final-backup-<time>/.
#
# The system modes ask before changing anything (--unattended: never ask, for automation) and re-run
# themselves with sudo when not run as root. Packages already present are not reinstalled (apt is not
# even called, so a re-run is fast).
#
# Environment:
#   PYTHON               Python interpreter used to create the venv (default: python3).
#   QURANBOT_OS_RELEASE  os-release file used to detect the distribution
#                        (default: /etc/os-release; tests point it elsewhere).
#
# Structure: main() parses the flags into variables (parse_args), then dispatches to one function
# per mode: install_dev, install_system, uninstall_system. Each runs its cheap checks first (project
# directory, operating system, Python), asks, becomes root, then changes things one logged step at a
# time; a failing command names the step it broke.

set -Eeuo pipefail

readonly MIN_PYTHON_MAJOR=3
readonly MIN_PYTHON_MINOR=11
readonly DEBIAN_PACKAGES=(ffmpeg libopus0 python3-venv)
# The system install talks to Discord over TLS with the system's CA store (a minimal Debian has none).
readonly SYSTEM_PACKAGES=("${DEBIAN_PACKAGES[@]}" ca-certificates)
# A developer's tests also build the soak's small wall-clock shim (quranbot/soak/wallclock.c).
readonly DEV_PACKAGES=("${DEBIAN_PACKAGES[@]}" gcc libc6-dev)

# The directory holding this script is the project root, whatever the caller's cwd.
PROJECT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
readonly PROJECT_DIR
SCRIPT_PATH="${PROJECT_DIR}/$(basename -- "${BASH_SOURCE[0]}")"
readonly SCRIPT_PATH
readonly DEV_VENV_DIR="${PROJECT_DIR}/.venv"
readonly OS_RELEASE="${QURANBOT_OS_RELEASE:-/etc/os-release}"

# The system install's places; quranbot/paths.py and systemd/quranbot.service name the same ones.
readonly SERVICE_USER="quranbot"
readonly PREFIX="/opt/quranbot"
readonly WRAPPER="/usr/local/bin/quranbot"
readonly CONFIG_DIR="/etc/quranbot"
readonly STATE_DIR="/var/lib/quranbot"
readonly RUNTIME_DIR="/run/quranbot"
readonly UNIT_NAME="quranbot.service"
readonly UNIT_FILE="/etc/systemd/system/${UNIT_NAME}"
# Where `quranbot service install` finds the unit to render (a wheel carries no systemd/ folder).
readonly UNIT_TEMPLATE="${PREFIX}/share/quranbot/${UNIT_NAME}"
# The shards' template unit (quranbot@N.service runs shard N; `quranbot service install --shards N`).
readonly SHARD_UNIT_NAME="quranbot@.service"
readonly SHARD_UNIT_FILE="/etc/systemd/system/${SHARD_UNIT_NAME}"
readonly FINAL_BACKUP_PARENT="/root"

# Set by parse_args().
MODE="system"
UNATTENDED="no"
PURGE="no"
ORIGINAL_ARGS=()

# Set to "yes" by check_python() once the interpreter has passed the version check.
PYTHON_CHECKED="no"

# The step being run, named in the error message if a command fails unexpectedly.
CURRENT_STEP="starting"

# A temporary directory to remove on exit (the staging copy of the project).
CLEANUP_DIR=""
# Set by stage_project() and final_backup().
STAGING_DIR=""
FINAL_BACKUP_DIR=""

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

cleanup() {
    if [[ -n "${CLEANUP_DIR}" ]]; then
        rm -rf -- "${CLEANUP_DIR}"
    fi
}
trap cleanup EXIT

usage() {
    cat <<EOF
Usage: install.sh [--unattended] | --dev | --uninstall [--purge] [--unattended] | --help

Set up QuranBot on Debian or Ubuntu, from a clone of its repository.

Without a mode option: the system install. Installs the Debian packages
(${SYSTEM_PACKAGES[*]}), creates the system user and group
${SERVICE_USER}, a venv in ${PREFIX} with QuranBot installed, ${WRAPPER},
${CONFIG_DIR} and ${STATE_DIR}. Safe to run again: it repairs and
upgrades in place and keeps config, state and audio. Then: quranbot setup,
quranbot service install.

Options:
  --dev         Developer setup from this repository: install the Debian packages
                (${DEV_PACKAGES[*]}), create .venv and pip install -e ".[dev]".
                Touches no system paths.
  --unattended  Ask no questions (for automation): answer yes to every confirmation.
  --uninstall   Stop and remove the service, ${PREFIX} and ${WRAPPER}.
                Keeps ${CONFIG_DIR}, ${STATE_DIR} and the ${SERVICE_USER} user.
  --purge       With --uninstall: also remove ${CONFIG_DIR}, ${STATE_DIR} and the
                user, after a final backup into ${FINAL_BACKUP_PARENT}/quranbot-final-backup-<time>/.
  -h, --help    Show this help and exit.

The system modes need root; run as another user, install.sh re-runs itself with sudo.

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

# Ask a yes/no question ($1), with $2 (yes or no) the answer Enter gives. --unattended answers yes;
# with no terminal to ask on, refuse rather than guess.
confirm() {
    local question=$1 default=$2 hint answer
    if [[ "${UNATTENDED}" == "yes" ]]; then
        return 0
    fi
    [[ -t 0 ]] \
        || die "cannot ask for confirmation: standard input is not a terminal (pass --unattended to proceed without questions)"
    if [[ "${default}" == "yes" ]]; then hint="[Y/n]"; else hint="[y/N]"; fi
    read -r -p "${question} ${hint} " answer || answer=""
    answer="${answer:-${default}}"
    case "${answer,,}" in
        y | yes) return 0 ;;
        *)
            printf 'Nothing was changed.\n'
            exit 1
            ;;
    esac
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
        || die "install.sh must be run from the QuranBot repository, but ${PROJECT_DIR} (where install.sh lives) has no pyproject.toml and quranbot/ package"
}

systemd_running() {
    [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1
}

# --------------------------------------------------------------------------- root

# Run a command as root: directly if we are root, through sudo otherwise.
as_root() {
    if (( EUID == 0 )); then
        "$@"
    else
        sudo "$@"
    fi
}

# The system modes change system paths: re-run this script as root through sudo. The questions were
# answered already, so the root run gets --unattended; PYTHON and QURANBOT_OS_RELEASE go along.
become_root() {
    (( EUID == 0 )) && return 0
    command -v sudo >/dev/null 2>&1 \
        || die "the system install needs root and sudo is not installed: run it as root (su -c '${SCRIPT_PATH} ${ORIGINAL_ARGS[*]}')"
    step "Re-running as root with sudo"
    local keep=()
    [[ -n "${PYTHON:-}" ]] && keep+=("PYTHON=${PYTHON}")
    [[ -n "${QURANBOT_OS_RELEASE:-}" ]] && keep+=("QURANBOT_OS_RELEASE=${QURANBOT_OS_RELEASE}")
    exec sudo -- env "${keep[@]}" bash "${SCRIPT_PATH}" "${ORIGINAL_ARGS[@]}" --unattended
}

# --------------------------------------------------------------------------- packages

package_installed() {
    local status
    status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" || return 1
    [[ "${status}" == "install ok installed" ]]
}

# Install the Debian packages named as arguments that are not installed yet.
install_debian_packages() {
    local wanted=("$@") missing=() package
    step "Checking Debian packages: ${wanted[*]}"
    for package in "${wanted[@]}"; do
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

# A venv ($1) is usable if its python runs and is recent enough.
venv_is_usable() {
    [[ -x "$1/bin/python" ]] && python_is_recent_enough "$1/bin/python"
}

# Create the venv $1, or reuse it if it works (a Python upgrade breaks a venv: then it is rebuilt).
create_venv() {
    local venv=$1 python="${PYTHON:-python3}"
    if venv_is_usable "${venv}"; then
        step "Reusing the virtual environment ${venv}"
        return 0
    fi

    if [[ -e "${venv}" ]]; then
        step "Recreating the broken virtual environment ${venv}"
        "${python}" -m venv --clear "${venv}"
    else
        step "Creating the virtual environment ${venv}"
        "${python}" -m venv "${venv}"
    fi
    [[ -x "${venv}/bin/python" ]] || die "${python} -m venv did not create ${venv}/bin/python"
}

# Upgrade pip in the venv $1. Not fatal: an older pip still installs the project.
upgrade_pip() {
    local venv_python="$1/bin/python"
    step "Upgrading pip in the virtual environment"
    "${venv_python}" -m pip install -q --disable-pip-version-check --upgrade pip \
        || warn "could not upgrade pip; continuing with $("${venv_python}" -m pip --version 2>&1 || true)"
}

install_dev_python_packages() {
    upgrade_pip "${DEV_VENV_DIR}"
    step "Installing QuranBot in editable mode with dev extras: pip install -e \".[dev]\""
    "${DEV_VENV_DIR}/bin/python" -m pip install -q --disable-pip-version-check -e ".[dev]"

    [[ -x "${DEV_VENV_DIR}/bin/quranbot" ]] || die "pip finished but ${DEV_VENV_DIR}/bin/quranbot is missing"
}

# --------------------------------------------------------------------------- system install

create_service_user() {
    step "Creating the system user and group ${SERVICE_USER}"
    if getent group "${SERVICE_USER}" >/dev/null; then
        info "group ${SERVICE_USER} exists"
    else
        groupadd --system "${SERVICE_USER}"
        info "created group ${SERVICE_USER}"
    fi
    if getent passwd "${SERVICE_USER}" >/dev/null; then
        info "user ${SERVICE_USER} exists"
        return 0
    fi
    local nologin=/usr/sbin/nologin
    [[ -x "${nologin}" ]] || nologin=/bin/false
    # No login shell and no home of its own: the state directory stands in for one.
    useradd --system --gid "${SERVICE_USER}" --no-create-home --home-dir "${STATE_DIR}" \
        --shell "${nologin}" --comment "QuranBot service" "${SERVICE_USER}"
    info "created user ${SERVICE_USER} (shell ${nologin}, no home)"
}

# install -d sets owner and mode on existing directories too, so a re-run repairs them.
create_directories() {
    step "Creating ${CONFIG_DIR} (0750 root:${SERVICE_USER}) and ${STATE_DIR} (0700 ${SERVICE_USER}:${SERVICE_USER})"
    install -d -m 0750 -o root -g "${SERVICE_USER}" "${CONFIG_DIR}"
    install -d -m 0700 -o "${SERVICE_USER}" -g "${SERVICE_USER}" "${STATE_DIR}"

    # Files an admin made as root (an import, a restore) must stay writable by the bot. systemd only
    # fixes ownership below StateDirectory= when the directory itself is wrong, so fix it here.
    local count
    count="$(find "${STATE_DIR}" \( ! -user "${SERVICE_USER}" -o ! -group "${SERVICE_USER}" \) -print | wc -l)"
    if (( count > 0 )); then
        find "${STATE_DIR}" \( ! -user "${SERVICE_USER}" -o ! -group "${SERVICE_USER}" \) \
            -exec chown -h "${SERVICE_USER}:${SERVICE_USER}" {} +
        info "gave ${count} file(s) in ${STATE_DIR} back to ${SERVICE_USER}"
    fi
}

# pip builds in the source tree (build/, *.egg-info): build from a private copy instead, so a
# read-only or shared checkout works and is left untouched.
stage_project() {
    CLEANUP_DIR="$(mktemp -d -t quranbot-install.XXXXXXXX)"
    local staging="${CLEANUP_DIR}/src"
    mkdir -p "${staging}"
    step "Copying the project from ${PROJECT_DIR} to ${staging}"
    tar -C "${PROJECT_DIR}" \
        --exclude=./.git --exclude=./.venv --exclude=./build --exclude=./dist --exclude=./home \
        --exclude='*.egg-info' --exclude=__pycache__ --exclude=.mypy_cache --exclude=.ruff_cache \
        --exclude=.pytest_cache -cf - . \
        | tar -C "${staging}" -xf -
    STAGING_DIR="${staging}"
}

install_system_python_packages() {
    upgrade_pip "${PREFIX}"
    stage_project
    step "Installing QuranBot into ${PREFIX}: pip install --upgrade (not editable)"
    # --force-reinstall --no-deps would skip dependency upgrades: a plain --upgrade of a local
    # directory always rebuilds and reinstalls the project, and upgrades only what it needs.
    "${PREFIX}/bin/python" -m pip install -q --disable-pip-version-check --upgrade "${STAGING_DIR}"
    [[ -x "${PREFIX}/bin/quranbot" ]] || die "pip finished but ${PREFIX}/bin/quranbot is missing"
    info "installed $("${PREFIX}/bin/quranbot" --version)"
}

install_unit_template() {
    step "Installing the systemd unit template to ${UNIT_TEMPLATE}"
    install -D -m 0644 "${PROJECT_DIR}/systemd/${UNIT_NAME}" "${UNIT_TEMPLATE}"
    install -D -m 0644 "${PROJECT_DIR}/systemd/${SHARD_UNIT_NAME}" "$(dirname -- "${UNIT_TEMPLATE}")/${SHARD_UNIT_NAME}"
}

# The shard instances systemd knows of (quranbot@0.service ...), one per line; none without systemd.
shard_units() {
    systemd_running || return 0
    systemctl list-units --all --plain --no-legend 'quranbot@*.service' 2>/dev/null | awk '{print $1}'
}

install_wrapper() {
    step "Linking ${WRAPPER} -> ${PREFIX}/bin/quranbot"
    install -d -m 0755 "$(dirname -- "${WRAPPER}")"
    ln -sfn "${PREFIX}/bin/quranbot" "${WRAPPER}"
    "${WRAPPER}" --version >/dev/null || die "${WRAPPER} does not run"
}

# An installed service runs the old code until restarted: re-render its unit and restart it. A sharded
# machine has only the template unit; a plain `service install` installs its shards from config.toml.
refresh_service() {
    [[ -f "${UNIT_FILE}" || -f "${SHARD_UNIT_FILE}" ]] || return 0
    if ! systemd_running; then
        info "${UNIT_FILE} exists but systemd is not running here; left as it is"
        return 0
    fi
    step "Updating the installed service (quranbot service install)"
    "${WRAPPER}" service install \
        || warn "the service did not come back up; see: quranbot service status; quranbot service logs"
}

install_system() {
    check_project_dir
    check_os
    confirm "Install QuranBot system-wide (user ${SERVICE_USER}, ${PREFIX}, ${WRAPPER}, ${CONFIG_DIR}, ${STATE_DIR})?" yes
    become_root
    check_python allow-missing
    install_debian_packages "${SYSTEM_PACKAGES[@]}"
    [[ "${PYTHON_CHECKED}" == "yes" ]] || check_python
    create_service_user
    create_directories
    create_venv "${PREFIX}"
    install_system_python_packages
    install_unit_template
    install_wrapper
    refresh_service

    CURRENT_STEP="done"
    cat <<EOF

==> QuranBot is installed: ${WRAPPER} -> ${PREFIX}

Config stays in ${CONFIG_DIR}, state and audio in ${STATE_DIR}. Next:
    sudo quranbot setup                     # the bot token, your server and voice channel
    sudo quranbot reciter import SOURCE     # a folder or zip of recitations
    sudo quranbot service install           # run it now and at every boot
    quranbot service status                 # how it is doing
EOF
}

# --------------------------------------------------------------------------- uninstall

# Stop the service first, so the bot saves its position and the final backup holds the last state.
stop_service() {
    systemd_running || return 0
    local shards
    shards="$(shard_units)"
    if [[ -n "${shards}" ]]; then
        step "Stopping the shards: ${shards//$'\n'/ }"
        # shellcheck disable=SC2086  # one unit per word
        systemctl stop ${shards} || warn "systemctl stop failed for a shard; removing them anyway"
    fi
    [[ "$(systemctl show -p LoadState --value "${UNIT_NAME}" 2>/dev/null)" == "not-found" ]] && return 0
    step "Stopping ${UNIT_NAME}"
    systemctl stop "${UNIT_NAME}" || warn "systemctl stop ${UNIT_NAME} failed; removing it anyway"
}

# The backup before a purge. `quranbot backup create` when the command is still there (the state files,
# checked), else a tar of them; config.toml beside it. Not the audio (re-importable), not the token.
final_backup() {
    local stamp dir
    stamp="$(date -u +%Y%m%dT%H%M%SZ)"
    dir="${FINAL_BACKUP_PARENT}/quranbot-final-backup-${stamp}"
    step "Making a final backup in ${dir}"
    install -d -m 0700 "${dir}"
    if [[ -d "${STATE_DIR}" ]]; then
        if [[ -x "${PREFIX}/bin/quranbot" ]]; then
            local before
            before="$(mktemp)"
            env -u QURANBOT_HOME "${PREFIX}/bin/quranbot" backup create \
                || die "quranbot backup create failed: nothing was removed (fix it, or remove ${STATE_DIR} yourself)"
            local made
            made="$(find "${STATE_DIR}/backups" -maxdepth 1 -name '*.zip' -newer "${before}" -print | head -n 1)"
            rm -f -- "${before}"
            [[ -n "${made}" ]] || die "quranbot backup create reported success but wrote no new zip in ${STATE_DIR}/backups"
            cp -p -- "${made}" "${dir}/"
        else
            warn "${PREFIX}/bin/quranbot is gone (uninstalled earlier), so the state is archived with tar"
            tar -C "${STATE_DIR}" --exclude=./audio --exclude=./backups -czf "${dir}/state.tar.gz" .
        fi
    fi
    # Sharded: each shard's state is in shard-N/, which `backup create` (the unsharded state) leaves out:
    # keep each shard's state files and audit trail (the shards were stopped above, so they are whole).
    local shard
    for shard in "${STATE_DIR}"/shard-*/; do
        [[ -d "${shard}" ]] || continue
        tar -C "${shard}" --exclude=./backups -czf "${dir}/$(basename -- "${shard}")-state.tar.gz" .
    done
    if [[ -f "${CONFIG_DIR}/config.toml" ]]; then
        cp -p -- "${CONFIG_DIR}/config.toml" "${dir}/"
    fi
    info "kept: $(find "${dir}" -mindepth 1 -maxdepth 1 -printf '%f ')(not the audio, not the token)"
    FINAL_BACKUP_DIR="${dir}"
}

remove_service() {
    local shards
    shards="$(shard_units)"
    if [[ -n "${shards}" ]]; then
        step "Disabling and removing the shards' ${SHARD_UNIT_NAME}"
        # shellcheck disable=SC2086  # one unit per word
        systemctl disable --now ${shards} || warn "systemctl disable --now failed for a shard"
    fi
    if [[ -e "${SHARD_UNIT_FILE}" ]]; then
        rm -f -- "${SHARD_UNIT_FILE}"
        systemd_running && systemctl daemon-reload
    fi
    if systemd_running && [[ "$(systemctl show -p LoadState --value "${UNIT_NAME}" 2>/dev/null)" != "not-found" ]]; then
        step "Disabling and removing ${UNIT_NAME}"
        systemctl disable --now "${UNIT_NAME}" || warn "systemctl disable --now ${UNIT_NAME} failed"
        rm -f -- "${UNIT_FILE}"
        systemctl daemon-reload
        systemctl reset-failed "${UNIT_NAME}" 2>/dev/null || true
    elif [[ -e "${UNIT_FILE}" ]]; then
        step "Removing ${UNIT_FILE} (systemd is not running here)"
        rm -f -- "${UNIT_FILE}" "/etc/systemd/system/multi-user.target.wants/${UNIT_NAME}"
    else
        info "no ${UNIT_NAME} installed"
    fi
}

remove_program() {
    step "Removing ${PREFIX} and ${WRAPPER}"
    if [[ -L "${WRAPPER}" && "$(readlink -- "${WRAPPER}")" == "${PREFIX}/"* ]]; then
        rm -f -- "${WRAPPER}"
    elif [[ -e "${WRAPPER}" ]]; then
        warn "${WRAPPER} is not the link install.sh made; left in place"
    fi
    rm -rf -- "${PREFIX}"
}

purge_data() {
    step "Removing ${CONFIG_DIR}, ${STATE_DIR} and the ${SERVICE_USER} user"
    rm -rf -- "${CONFIG_DIR}" "${STATE_DIR}" "${RUNTIME_DIR}" "/etc/systemd/system/${UNIT_NAME}.d"
    if getent passwd "${SERVICE_USER}" >/dev/null; then
        userdel "${SERVICE_USER}"
    fi
    if getent group "${SERVICE_USER}" >/dev/null; then
        groupdel "${SERVICE_USER}"
    fi
}

uninstall_system() {
    if [[ "${PURGE}" == "yes" ]]; then
        confirm "Remove QuranBot completely: the service, ${PREFIX}, ${WRAPPER}, and DELETE ${CONFIG_DIR} and ${STATE_DIR} (config, token, state, audio) after a final backup?" no
    else
        confirm "Remove QuranBot's service, ${PREFIX} and ${WRAPPER} (${CONFIG_DIR} and ${STATE_DIR} stay)?" no
    fi
    become_root
    stop_service
    if [[ "${PURGE}" == "yes" ]]; then
        final_backup   # before anything is removed: a failed backup stops the purge
    fi
    remove_service
    remove_program
    if [[ "${PURGE}" == "yes" ]]; then
        purge_data
    fi

    CURRENT_STEP="done"
    if [[ "${PURGE}" == "yes" ]]; then
        printf '\n==> QuranBot is removed, with its config and state. Final backup: %s\n' "${FINAL_BACKUP_DIR}"
    else
        printf '\n==> QuranBot is uninstalled. Kept: %s and %s (install.sh reinstalls on top of them).\n' \
            "${CONFIG_DIR}" "${STATE_DIR}"
    fi
}

# --------------------------------------------------------------------------- dev

install_dev() {
    check_project_dir
    cd -- "${PROJECT_DIR}"   # pip install -e "." below is relative to the project root
    # The cheap checks run before anything is installed, so a wrong system fails fast.
    check_os
    check_python allow-missing
    install_debian_packages "${DEV_PACKAGES[@]}"
    [[ "${PYTHON_CHECKED}" == "yes" ]] || check_python
    create_venv "${DEV_VENV_DIR}"
    install_dev_python_packages

    CURRENT_STEP="done"
    cat <<EOF

==> QuranBot developer setup complete in ${PROJECT_DIR}

Next:
    cd ${PROJECT_DIR}
    .venv/bin/quranbot demo          # try the bot against the local sandbox
    .venv/bin/python -m pytest       # run the test suite
EOF
}

# --------------------------------------------------------------------------- main

parse_args() {
    ORIGINAL_ARGS=("$@")
    local dev="no" uninstall="no"
    while (( $# > 0 )); do
        case "$1" in
            --dev) dev="yes" ;;
            --unattended) UNATTENDED="yes" ;;
            --uninstall) uninstall="yes" ;;
            --purge) PURGE="yes" ;;
            -h | --help) usage; exit 0 ;;
            -*) usage_error "unknown option: $1" ;;
            *) usage_error "unexpected argument: $1" ;;
        esac
        shift
    done
    if [[ "${dev}" == "yes" && "${uninstall}" == "yes" ]]; then
        usage_error "--dev and --uninstall do not go together (a developer setup is removed with: rm -rf .venv)"
    fi
    if [[ "${PURGE}" == "yes" && "${uninstall}" != "yes" ]]; then
        usage_error "--purge only goes with --uninstall"
    fi
    if [[ "${dev}" == "yes" ]]; then
        MODE="dev"
    elif [[ "${uninstall}" == "yes" ]]; then
        MODE="uninstall"
    fi
}

main() {
    parse_args "$@"
    case "${MODE}" in
        dev) install_dev ;;
        system) install_system ;;
        uninstall) uninstall_system ;;
    esac
}

main "$@"
