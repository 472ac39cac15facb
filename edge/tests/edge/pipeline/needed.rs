//! What each resource type of a processed template needs of the CloudFormation execution role
//! (`pipeline/bootstrap.yaml`), the table `bootstrap.rs` holds the role to.

/// Per resource type: the actions CloudFormation calls to create, read and update one, then
/// those to delete one (needless where the stage keeps it: `DeletionPolicy: Retain`). From the
/// types' CloudFormation registry schemas (`handlers`), less what serves properties the stack
/// does not set (VPCs, imports, replicas, code signing, Cognito's custom domains…).
pub(super) const NEEDED: &[(&str, &str, &str)] = &[
    (
        "AWS::ApiGatewayV2::Api",
        "apigateway:POST apigateway:PUT apigateway:GET apigateway:PATCH",
        "apigateway:DELETE",
    ),
    (
        "AWS::ApiGatewayV2::ApiMapping",
        "apigateway:POST apigateway:GET apigateway:PATCH apigateway:PUT",
        "apigateway:DELETE",
    ),
    (
        "AWS::ApiGatewayV2::DomainName",
        "apigateway:POST apigateway:GET apigateway:PUT apigateway:PATCH \
         apigateway:AddCertificateToDomain apigateway:RemoveCertificateFromDomain",
        "apigateway:DELETE",
    ),
    (
        "AWS::ApiGatewayV2::Stage",
        "apigateway:POST apigateway:GET apigateway:PATCH logs:CreateLogDelivery \
         logs:GetLogDelivery logs:UpdateLogDelivery logs:ListLogDeliveries logs:PutResourcePolicy \
         logs:DescribeResourcePolicies logs:DescribeLogGroups iam:CreateServiceLinkedRole",
        "apigateway:DELETE logs:DeleteLogDelivery",
    ),
    (
        "AWS::Backup::BackupPlan",
        "backup:CreateBackupPlan backup:GetBackupPlan backup:UpdateBackupPlan backup:TagResource \
         backup:UntagResource backup:ListTags iam:PassRole",
        "backup:DeleteBackupPlan",
    ),
    (
        "AWS::Backup::BackupSelection",
        "backup:CreateBackupSelection backup:GetBackupSelection iam:GetRole iam:PassRole \
         iam:CreateServiceLinkedRole",
        "backup:DeleteBackupSelection",
    ),
    (
        "AWS::Backup::BackupVault",
        "backup:CreateBackupVault backup:DescribeBackupVault \
         backup:PutBackupVaultLockConfiguration backup:ListTags backup:TagResource \
         backup:UntagResource backup-storage:MountCapsule kms:CreateGrant kms:Decrypt \
         kms:DescribeKey kms:GenerateDataKey kms:RetireGrant",
        "backup:DeleteBackupVault",
    ),
    (
        "AWS::CloudWatch::Alarm",
        "cloudwatch:PutMetricAlarm cloudwatch:DescribeAlarms cloudwatch:TagResource \
         cloudwatch:UntagResource cloudwatch:ListTagsForResource",
        "cloudwatch:DeleteAlarms",
    ),
    (
        "AWS::CloudWatch::Dashboard",
        "cloudwatch:PutDashboard cloudwatch:GetDashboard cloudwatch:TagResource \
         cloudwatch:UntagResource cloudwatch:ListTagsForResource",
        "cloudwatch:DeleteDashboards",
    ),
    (
        "AWS::CodeDeploy::Application",
        "codedeploy:CreateApplication codedeploy:GetApplication codedeploy:TagResource \
         codedeploy:UntagResource codedeploy:ListTagsForResource",
        "codedeploy:DeleteApplication",
    ),
    (
        "AWS::CodeDeploy::DeploymentGroup",
        "codedeploy:CreateDeploymentGroup codedeploy:GetDeploymentGroup \
         codedeploy:UpdateDeploymentGroup codedeploy:CreateDeployment codedeploy:GetDeployment \
         codedeploy:StopDeployment codedeploy:ListDeployments codedeploy:GetDeploymentConfig \
         codedeploy:RegisterApplicationRevision codedeploy:GetApplicationRevision \
         codedeploy:TagResource codedeploy:UntagResource iam:PassRole",
        "codedeploy:DeleteDeploymentGroup",
    ),
    (
        "AWS::Cognito::UserPool",
        "cognito-idp:CreateUserPool cognito-idp:DescribeUserPool cognito-idp:UpdateUserPool \
         cognito-idp:SetUserPoolMfaConfig cognito-idp:GetUserPoolMfaConfig \
         cognito-idp:TagResource cognito-idp:UntagResource cognito-idp:ListTagsForResource",
        "cognito-idp:DeleteUserPool",
    ),
    (
        "AWS::Cognito::UserPoolClient",
        "cognito-idp:CreateUserPoolClient cognito-idp:DescribeUserPoolClient \
         cognito-idp:UpdateUserPoolClient",
        "cognito-idp:DeleteUserPoolClient",
    ),
    (
        "AWS::Cognito::UserPoolDomain",
        "cognito-idp:CreateUserPoolDomain cognito-idp:DescribeUserPoolDomain \
         cognito-idp:UpdateUserPoolDomain",
        "cognito-idp:DeleteUserPoolDomain",
    ),
    (
        "AWS::Cognito::UserPoolResourceServer",
        "cognito-idp:CreateResourceServer cognito-idp:DescribeResourceServer \
         cognito-idp:UpdateResourceServer",
        "cognito-idp:DeleteResourceServer",
    ),
    (
        "AWS::DynamoDB::Table",
        "dynamodb:CreateTable dynamodb:DescribeTable dynamodb:UpdateTable \
         dynamodb:DescribeContinuousBackups dynamodb:UpdateContinuousBackups \
         dynamodb:DescribeTimeToLive dynamodb:UpdateTimeToLive \
         dynamodb:DescribeContributorInsights dynamodb:DescribeKinesisStreamingDestination \
         dynamodb:GetResourcePolicy dynamodb:ListTagsOfResource dynamodb:TagResource \
         dynamodb:UntagResource kms:CreateGrant kms:DescribeKey kms:Decrypt kms:Encrypt \
         kms:RevokeGrant kms:ListAliases",
        "dynamodb:DeleteTable",
    ),
    (
        "AWS::IAM::Role",
        "iam:CreateRole iam:GetRole iam:PutRolePolicy iam:GetRolePolicy iam:AttachRolePolicy \
         iam:ListRolePolicies iam:ListAttachedRolePolicies iam:DeleteRolePolicy \
         iam:DetachRolePolicy iam:TagRole iam:UntagRole iam:UpdateRole iam:UpdateRoleDescription \
         iam:UpdateAssumeRolePolicy iam:PutRolePermissionsBoundary",
        "iam:DeleteRole",
    ),
    (
        "AWS::KMS::Key",
        "kms:CreateKey kms:DescribeKey kms:PutKeyPolicy kms:GetKeyPolicy kms:EnableKeyRotation \
         kms:DisableKeyRotation kms:GetKeyRotationStatus kms:EnableKey kms:DisableKey \
         kms:UpdateKeyDescription kms:TagResource kms:UntagResource kms:ListResourceTags",
        "kms:ScheduleKeyDeletion",
    ),
    (
        "AWS::Lambda::Alias",
        "lambda:CreateAlias lambda:GetAlias lambda:UpdateAlias \
         lambda:GetProvisionedConcurrencyConfig codedeploy:CreateDeployment \
         codedeploy:GetDeployment codedeploy:GetDeploymentConfig codedeploy:GetDeploymentGroup \
         codedeploy:StopDeployment",
        "lambda:DeleteAlias",
    ),
    (
        "AWS::Lambda::Function",
        "lambda:CreateFunction lambda:GetFunction lambda:GetFunctionConfiguration \
         lambda:UpdateFunctionCode lambda:UpdateFunctionConfiguration \
         lambda:GetFunctionCodeSigningConfig lambda:GetFunctionRecursionConfig \
         lambda:GetRuntimeManagementConfig lambda:PublishVersion lambda:TagResource \
         lambda:UntagResource lambda:ListTags iam:PassRole s3:GetObject s3:GetObjectVersion",
        "lambda:DeleteFunction",
    ),
    (
        "AWS::Lambda::Permission",
        "lambda:AddPermission lambda:GetPolicy",
        "lambda:RemovePermission",
    ),
    (
        "AWS::Lambda::Version",
        "lambda:PublishVersion lambda:GetFunctionConfiguration lambda:ListVersionsByFunction \
         lambda:GetProvisionedConcurrencyConfig lambda:GetRuntimeManagementConfig",
        "lambda:DeleteFunction",
    ),
    (
        "AWS::Logs::LogGroup",
        "logs:CreateLogGroup logs:DescribeLogGroups logs:PutRetentionPolicy \
         logs:DeleteRetentionPolicy logs:TagResource logs:UntagResource logs:ListTagsForResource \
         logs:DescribeIndexPolicies logs:DescribeResourcePolicies logs:GetDataProtectionPolicy",
        "logs:DeleteLogGroup",
    ),
    (
        "AWS::Logs::MetricFilter",
        "logs:PutMetricFilter logs:DescribeMetricFilters",
        "logs:DeleteMetricFilter",
    ),
    (
        "AWS::Logs::QueryDefinition",
        "logs:PutQueryDefinition logs:DescribeQueryDefinitions",
        "logs:DeleteQueryDefinition",
    ),
    (
        "AWS::Route53::RecordSet",
        "route53:ChangeResourceRecordSets route53:GetChange route53:GetHostedZone \
         route53:ListResourceRecordSets",
        "route53:ChangeResourceRecordSets",
    ),
    (
        "AWS::SNS::Subscription",
        "sns:Subscribe sns:GetSubscriptionAttributes sns:SetSubscriptionAttributes",
        "sns:Unsubscribe",
    ),
    (
        "AWS::SNS::Topic",
        "sns:CreateTopic sns:GetTopicAttributes sns:SetTopicAttributes sns:TagResource \
         sns:UntagResource sns:ListTagsForResource sns:ListSubscriptionsByTopic \
         sns:GetDataProtectionPolicy",
        "sns:DeleteTopic",
    ),
    (
        "AWS::SecretsManager::Secret",
        "secretsmanager:CreateSecret secretsmanager:DescribeSecret \
         secretsmanager:GetRandomPassword secretsmanager:GetSecretValue \
         secretsmanager:UpdateSecret secretsmanager:TagResource secretsmanager:UntagResource",
        "secretsmanager:DeleteSecret",
    ),
];
