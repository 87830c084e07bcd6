//! The whole role matrix, written out by hand as the specification: a change
//! to a rule must change this table too.

use super::*;
use release_desk_domain::Slug;

fn person(id: i64, roles: &[KnownRole]) -> Profile {
    Profile {
        id: ProfileId(id),
        name: format!("Person {id}"),
        email: format!("p{id}@example.org"),
        roles: roles.iter().map(|r| r.role()).collect(),
    }
}

use Action as A;
use KnownRole as R;

/// Who may take each workspace-wide action, by role held alone.
fn expected(role: Option<KnownRole>, action: Action) -> bool {
    match action {
        A::RaiseChanges => true,
        A::KeepCalendar => matches!(role, Some(R::ReleaseManager | R::ChangeManager)),
        A::ChangeFreezes => role == Some(R::ChangeManager),
        A::Promote
        | A::ReorderPath
        | A::ManageTrustedKeys
        | A::BindTargets
        | A::RecordArtefactLocations
        | A::ManageCredentials
        | A::ManageConnections => role == Some(R::ReleaseManager),
    }
}

#[test]
fn each_role_alone_may_take_exactly_its_workspace_actions() {
    let roles: Vec<Option<KnownRole>> = std::iter::once(None)
        .chain(KnownRole::ALL.into_iter().map(Some))
        .collect();
    for role in roles {
        let p = person(1, role.as_slice());
        for action in Action::ALL {
            let got = may(&p, action);
            assert_eq!(
                got.is_ok(),
                expected(role, action),
                "{role:?} {action:?}: {got:?}"
            );
            if let Err(e) = got {
                // The refusal says what was refused and what the person holds.
                let text = e.to_string();
                assert!(text.contains(&p.name), "{text}");
                assert!(
                    text.contains(&p.roles_text()),
                    "{text} should name {}",
                    p.roles_text()
                );
            }
        }
        assert_eq!(
            allowed(&p),
            Action::ALL
                .into_iter()
                .filter(|a| expected(role, *a))
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn powers_add_up_across_roles() {
    let dan = person(4, &[R::ChangeManager, R::ReleaseManager]);
    assert_eq!(allowed(&dan), Action::ALL.to_vec());
}

#[test]
fn a_role_the_app_does_not_know_grants_nothing() {
    let mut p = person(1, &[]);
    p.roles = vec![
        Slug::parse("release-managers").unwrap(),
        Slug::parse("security-lead").unwrap(),
    ];
    assert_eq!(allowed(&p), vec![Action::RaiseChanges]);
}

fn change(requester: i64, assignee: Option<i64>) -> Parties {
    Parties {
        reference: "CHG-0042".into(),
        requester: ProfileId(requester),
        assignee: assignee.map(ProfileId),
    }
}

#[test]
fn parties_and_managers_move_edit_and_reschedule_a_change() {
    let c = change(1, Some(2));
    for action in [
        ChangeAction::Move,
        ChangeAction::Edit,
        ChangeAction::Reschedule,
    ] {
        assert!(may_on_change(&person(1, &[]), &c, action).is_ok());
        assert!(may_on_change(&person(2, &[R::ProductOwner]), &c, action).is_ok());
        assert!(may_on_change(&person(3, &[R::ChangeManager]), &c, action).is_ok());
        assert!(may_on_change(&person(3, &[R::ReleaseManager]), &c, action).is_ok());
        for outsider in [
            R::ServiceOwner,
            R::ProductOwner,
            R::CabMember,
            R::HeadOfService,
        ] {
            let e = may_on_change(&person(3, &[outsider]), &c, action).unwrap_err();
            assert_eq!(e.code(), "transition_actor");
            assert!(e.to_string().contains("CHG-0042"), "{e}");
        }
    }
}

#[test]
fn only_a_change_manager_outside_the_change_overrides_its_risk_or_freeze() {
    let c = change(1, Some(2));
    let outside = person(3, &[R::ChangeManager]);
    let requester = person(1, &[R::ChangeManager]);
    let assignee = person(2, &[R::ChangeManager, R::ReleaseManager]);
    for action in [ChangeAction::OverrideRisk, ChangeAction::OverrideFreeze] {
        assert!(may_on_change(&outside, &c, action).is_ok());
        assert!(may_on_change(&requester, &c, action).is_err());
        assert!(may_on_change(&assignee, &c, action).is_err());
        for other in [
            R::ReleaseManager,
            R::ServiceOwner,
            R::CabMember,
            R::HeadOfService,
        ] {
            assert!(may_on_change(&person(3, &[other]), &c, action).is_err());
        }
    }
    assert_eq!(
        may_on_change(&assignee, &c, ChangeAction::OverrideFreeze)
            .unwrap_err()
            .code(),
        "separation_of_duties"
    );
    assert_eq!(
        may_on_change(
            &person(3, &[R::ReleaseManager]),
            &c,
            ChangeAction::OverrideFreeze
        )
        .unwrap_err()
        .code(),
        "freeze_override_role"
    );
    // The drift the issue found: the calendar offered "override freeze" to
    // a change manager who is a party. The list the UI reads now comes from
    // the same decision.
    assert!(!allowed_on_change(&requester, &c).contains(&ChangeAction::OverrideFreeze));
    assert_eq!(allowed_on_change(&outside, &c), ChangeAction::ALL.to_vec());
}

#[test]
fn whoever_approved_a_change_does_not_put_it_live() {
    let priya = person(1, &[R::ReleaseManager]);
    let e = may_put_live(&priya, "CHG-0007", true).unwrap_err();
    assert_eq!(e.code(), "separation_of_duties");
    assert!(e.to_string().contains("CHG-0007"), "{e}");
    assert!(may_put_live(&priya, "CHG-0007", false).is_ok());
}

#[test]
fn actions_serialise_as_the_names_the_ui_reads() {
    assert_eq!(
        serde_json::to_value(Action::ManageTrustedKeys).unwrap(),
        "manage_trusted_keys"
    );
    assert_eq!(
        serde_json::to_value(ChangeAction::OverrideFreeze).unwrap(),
        "override_freeze"
    );
}
